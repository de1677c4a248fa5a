"""pending_instance: instances sent by C-STORE before their study was registered, kept until it is

An instance a registered AE sends before §2.1 or §2.3 names its study and accession is stored (file in the storage
area, under the name it will keep) and recorded here, outside `instance`: nothing that serves instances reads this
table. A registration that names its study and accession moves its row to `instance` (and `dicomweb_instance`);
one that waited longer than `mie serve --pending-days` is removed with its file (ERRATA E-UNASSIGNED-INSTANCE).

Downgrade drops the table; pending instances' files are then removed by the next start-up recovery (no row knows them).

Revision ID: 0006_pending_instance
Revises: 0005_index_key
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_pending_instance"
down_revision = "0005_index_key"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "pending_instance",
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("calling_ae", sa.String(length=16), nullable=True),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("accession_number", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", _JSON, nullable=False),
        sa.Column("dicomweb", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("sop_instance_uid"),
    )
    op.create_index("ix_pending_instance_study", "pending_instance", ["institution_code", "study_uid"])
    op.create_index("ix_pending_instance_received_at", "pending_instance", ["received_at"])


def downgrade() -> None:
    op.drop_table("pending_instance")
