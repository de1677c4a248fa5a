"""V1.5 draft: study.modality

The draft's only change the schema must follow (tests/spec_revision.py): §2.3 gains a required `modality`. The other
planted changes need none, because each exam record is kept whole as JSON beside its key columns (spec/ERRATA.md,
"Storage"): a new optional field of §2.1 and the renamed one live in `exam_record.record`, and rpotNo (lengthened to
100) and the new examPart code are no key column (`report.rpot_no` holds one report number of at most 50, the length
§2.4 gives it). `study` keeps no JSON of the §2.3 record, so a field of §2.3 that is to be kept needs a column.

Nullable: studies registered under V1.4 have none, and the migration keeps them as they are.
Kept beside the tests, not in mie/store/migrations/versions/: V1.5 is a draft, and the packaged head stays V1.4 until
the spec is. Applied with `--migrations tests/migrations_v1_5` (MIE_MIGRATIONS); on release it moves into versions/.

Revision ID: 0004_v1_5_draft
Revises: 0007_series_revision
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_v1_5_draft"
down_revision = "0007_series_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("study", sa.Column("modality", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study") as batch:
        batch.drop_column("modality")
