"""instance: series and instance numbers, frames, rows, modality, series description

§2.7 lists an exam's instances in series and instance order, and the image page orders and labels a series, from
these columns instead of reading every file's header (issue 7): ingest fills them from the header it reads anyway
(mie/service/part10.py `scan_header` for DICOM C-STORE, pydicom for §2.2).

Rows stored before this revision are left NULL: filling them would read every stored file inside the migration
(hours on a large archive, holding the upgrade's transaction). Their readers fall back instead: §2.7 lists an
instance without numbers after the numbered ones of its series, in arrival order (mie/service/retrieval.py
`in_series_order`), and the image page reads the header of a row whose `modality` is NULL (a row stored since has
"" when the file has none), as it did for every row before (mie/service/pages.py).

No index on (hi_img_indx, series_number, instance_number): an exam's rows are found through ix_instance_hi_img_indx
and ordered in Python (series grouped, NULLs last), and another index would cost every ingested instance.

Revision ID: 0003_instance_order
Revises: 0002_spec_lengths
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_instance_order"
down_revision = "0002_spec_lengths"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("series_number", sa.Integer()),
    ("instance_number", sa.Integer()),
    ("number_of_frames", sa.Integer()),
    ("rows", sa.Integer()),
    ("modality", sa.String(length=16)),
    ("series_description", sa.String(length=64)),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("instance", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
