"""V1.4 baseline

The schema as `Database.create_all()` made it before migrations existed. A database made then has mie's
tables and no alembic_version: it is stamped with this revision, not migrated; tables it lacks (made by an
earlier mie, before access_event say) are created first, as `create_all` did on every start (`metadata()`).
Written out here, not taken from mie/store/tables.py, so that this revision means the same whatever the tables
become later; tests/test_migrations.py checks that it equals the tables as long as no later packaged revision
exists.

Revision ID: 0001_v1_4
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_v1_4"
down_revision = None
branch_labels = None
depends_on = None

# Each exam record is kept whole as JSON (JSONB on PostgreSQL) beside its key columns (spec/ERRATA.md, "Storage").
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def metadata() -> sa.MetaData:
    """The baseline's tables and indexes: created whole by `upgrade`, the missing ones only before stamping."""
    found = sa.MetaData()

    def table(name: str, *items: sa.SchemaItem) -> None:
        sa.Table(name, found, *items)

    def index(name: str, table_name: str, columns: list[str], unique: bool = False) -> None:
        sa.Index(name, *(found.tables[table_name].c[column] for column in columns), unique=unique)

    table(
        "access_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("source_address", sa.String(length=64), nullable=True),
        sa.Column("person_digest", sa.String(length=64), nullable=True),
        sa.Column("person_masked", sa.String(length=80), nullable=True),
        sa.Column("hi_img_indx_masked", sa.String(length=100), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("bytes_sent", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    index("ix_access_event_at", "access_event", ["at"])
    index("ix_access_event_institution", "access_event", ["institution_code", "at"])
    index("ix_access_event_person", "access_event", ["person_digest", "at"])
    table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    index("ix_audit_event_at", "audit_event", ["at"])
    table(
        "exam_record",
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("psn_cert_type", sa.String(length=6), nullable=False),
        sa.Column("certno", sa.String(length=50), nullable=False),
        sa.Column("exam_date", sa.String(length=10), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("msgid", sa.String(length=50), nullable=False),
        sa.Column("record", JSON_DOCUMENT, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hi_img_indx"),
    )
    index("ix_exam_record_institution_code", "exam_record", ["institution_code"])
    index("ix_exam_record_person", "exam_record", ["psn_cert_type", "certno", "exam_date"])
    index("ix_exam_record_study_uid", "exam_record", ["study_uid"])
    table(
        "exam_record_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("msgid", sa.String(length=50), nullable=False),
        sa.Column("record", JSON_DOCUMENT, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hi_img_indx", "version"),
    )
    index("ix_exam_record_history_hi_img_indx", "exam_record_history", ["hi_img_indx"])
    table(
        "instance",
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("series_uid", sa.String(length=64), nullable=False),
        sa.Column("sop_class_uid", sa.String(length=64), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("calling_ae", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sop_instance_uid"),
    )
    index("ix_instance_hi_img_indx", "instance", ["hi_img_indx"])
    index("ix_instance_study_uid", "instance", ["study_uid"])
    table(
        "institution",
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("ae_title", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("ae_title"),
    )
    table(
        "message",
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("msgid", sa.String(length=50), nullable=False),
        sa.Column("infno", sa.String(length=50), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("answer", JSON_DOCUMENT, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("institution_code", "msgid"),
    )
    table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("rpot_no", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("study_uid", sa.String(length=512), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hi_img_indx", "rpot_no", "version"),
    )
    index("ix_report_hi_img_indx", "report", ["hi_img_indx"])
    table(
        "institution_source",
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_code"],
            ["institution.code"],
        ),
        sa.PrimaryKeyConstraint("institution_code", "network"),
    )
    table(
        "setl_info",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=30), nullable=False),
        sa.Column("exam_part", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hi_img_indx"],
            ["exam_record.hi_img_indx"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    index("ix_setl_info_hi_img_indx", "setl_info", ["hi_img_indx"])
    table(
        "study",
        sa.Column("hi_img_indx", sa.String(length=100), nullable=False),
        sa.Column("study_uid", sa.String(length=64), nullable=False),
        sa.Column("institution_code", sa.String(length=30), nullable=False),
        sa.Column("accession_numbers", sa.Text(), nullable=False),
        sa.Column("image_total_num", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hi_img_indx"],
            ["exam_record.hi_img_indx"],
        ),
        sa.PrimaryKeyConstraint("hi_img_indx", "study_uid"),
    )
    index("ix_study_study_uid", "study", ["study_uid"])
    return found


def upgrade() -> None:
    metadata().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    metadata().drop_all(op.get_bind(), checkfirst=False)
