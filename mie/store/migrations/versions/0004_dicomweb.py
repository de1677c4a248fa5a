"""dicomweb_instance: what DICOMweb (QIDO-RS, WADO-RS metadata) reads of each instance, kept from ingest

Ingest reads each instance's header once (pixel data left unread) and keeps its QIDO attributes (patient, study,
series, instance) and the header's bytes here; the DICOM JSON metadata is built from those bytes on first need and
kept beside them, so that neither a QIDO query nor series metadata reads a file.

Instances stored before this revision get no row here: filling them would read every stored file inside the
migration (as 0003_instance_order explains). DICOMweb fills them lazily instead: the first DICOMweb request a
process serves reads the files of the instances that have no row, once (mie/service/dicomweb_index.py).

Revision ID: 0004_dicomweb
Revises: 0003_instance_order
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_dicomweb"
down_revision = "0003_instance_order"
branch_labels = None
depends_on = None

_TEXTS = (
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "patient_sex",
    "study_date",
    "study_time",
    "accession_number",
    "study_description",
    "referring_physician_name",
    "study_id",
    "modality",
    "series_description",
)
_INTEGERS = ("series_number", "instance_number", "rows", "columns", "number_of_frames")


def upgrade() -> None:
    op.create_table(
        "dicomweb_instance",
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(length=64), nullable=False),
        *[sa.Column(name, sa.Text(), nullable=False) for name in _TEXTS],
        *[sa.Column(name, sa.Integer(), nullable=True) for name in _INTEGERS],
        sa.Column("header", sa.LargeBinary(), nullable=True),
        sa.Column("dicom_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("sop_instance_uid"),
    )
    op.create_index("ix_dicomweb_instance_hi_img_indx", "dicomweb_instance", ["hi_img_indx"])
    op.create_index("ix_dicomweb_instance_scope", "dicomweb_instance", ["institution_code", "study_uid"])
    op.create_index("ix_dicomweb_instance_series", "dicomweb_instance", ["study_uid", "series_uid"])


def downgrade() -> None:
    op.drop_table("dicomweb_instance")
