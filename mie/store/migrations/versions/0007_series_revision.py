"""dicomweb_series: a revision per series, raised with every change of its instances in dicomweb_instance

Series metadata (WADO-RS) is built once and kept in each process's memory; a process must know, on the next
request, that another process stored or deleted an instance of the series meanwhile. Counting the series'
instances on every request reads all of them; this table's one row per series says it at once. Every series
that has instances now starts at revision 1.

Revision ID: 0007_series_revision
Revises: 0006_pending_instance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_series_revision"
down_revision = "0006_pending_instance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dicomweb_series",
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("study_uid", "series_uid"),
    )
    op.execute(
        "INSERT INTO dicomweb_series (study_uid, series_uid, revision) "
        "SELECT DISTINCT study_uid, series_uid, 1 FROM dicomweb_instance"
    )


def downgrade() -> None:
    op.drop_table("dicomweb_series")
