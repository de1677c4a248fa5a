"""Column lengths from the spec

Columns that hold a field of the spec take its maxLength (mie/store/tables.py `spec_field`, tests/test_columns.py):
`exam_record.certno` 50 -> 600 (§2.6 accepts 600; widening, no row changes) and `report.study_uid` 512 -> 64 (one
UID rule, ERRATA E-UID: every UID is a DICOM UID of at most 64 characters). A study UID longer than 64 characters
stored by §2.4 before the rule existed makes the narrowing fail: the whole upgrade is then rolled back (it runs in
one transaction) and PostgreSQL's error names the column; such a row is not a DICOM UID and must be mended by hand.

Revision ID: 0002_spec_lengths
Revises: 0001_v1_4
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_spec_lengths"
down_revision = "0001_v1_4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch: SQLite cannot alter a column's type in place (it does not enforce the length either)
    with op.batch_alter_table("exam_record") as batch:
        batch.alter_column("certno", existing_type=sa.String(length=50), type_=sa.String(length=600), existing_nullable=False)
    with op.batch_alter_table("report") as batch:
        batch.alter_column("study_uid", existing_type=sa.String(length=512), type_=sa.String(length=64), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.alter_column("study_uid", existing_type=sa.String(length=64), type_=sa.String(length=512), existing_nullable=False)
    with op.batch_alter_table("exam_record") as batch:
        batch.alter_column("certno", existing_type=sa.String(length=600), type_=sa.String(length=50), existing_nullable=False)
