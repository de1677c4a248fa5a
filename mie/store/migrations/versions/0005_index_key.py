"""exam_record.index_key: one exam per index, whichever spelling of parts 4 and 5 it was sent in

Index parts 4 and 5 may be a single "0" or their full zeros (ERRATA E-INDEX-PART4); both name the same exam
(E-INDEX-SPELLING). The exam stays keyed by the index it was first saved with (every other table refers to it so),
and is found by `index_key`, the index in its canonical spelling (mie.contract IndexRule.canonical), unique.

Exams stored twice before this revision (once in each spelling) are merged into the first-saved one, as §2.1 would
have updated it: every version of both, ordered by when it was received, becomes a version of the first-saved exam
(the newest is current, the others history; nothing is dropped). The current version is the newest of the owner's,
the owner being whoever saved it first; another institution's saves (which §2.1 now refuses) are kept in history.
Its studies, instances (and their DICOMweb entries) and reports are re-pointed to it: a study registered under
both is one study (the later registration's accession numbers and total, the instances of both counted); a report
number uploaded under both is one report whose versions are renumbered in the order received. Settlements are those
of the current version. Audit and access events keep what was sent then. The files stay where they are (rows name their paths).

Downgrade drops the column; merged exams stay merged.

Revision ID: 0005_index_key
Revises: 0004_dicomweb
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from mie.contract import current

revision = "0005_index_key"
down_revision = "0004_dicomweb"
branch_labels = None
depends_on = None

_metadata = sa.MetaData()
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_exam = sa.Table(
    "exam_record",
    _metadata,
    sa.Column("hi_img_indx", sa.String, primary_key=True),
    sa.Column("index_key", sa.String),
    sa.Column("institution_code", sa.String),
    sa.Column("psn_cert_type", sa.String),
    sa.Column("certno", sa.String),
    sa.Column("exam_date", sa.String),
    sa.Column("study_uid", sa.String),
    sa.Column("version", sa.Integer),
    sa.Column("msgid", sa.String),
    sa.Column("record", _JSON),
    sa.Column("received_at", sa.DateTime),
)
_history = sa.Table(
    "exam_record_history",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hi_img_indx", sa.String),
    sa.Column("version", sa.Integer),
    sa.Column("institution_code", sa.String),
    sa.Column("msgid", sa.String),
    sa.Column("record", _JSON),
    sa.Column("received_at", sa.DateTime),
    sa.Column("replaced_at", sa.DateTime),
)
_setl = sa.Table("setl_info", _metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("hi_img_indx", sa.String))
_study = sa.Table(
    "study",
    _metadata,
    sa.Column("hi_img_indx", sa.String, primary_key=True),
    sa.Column("study_uid", sa.String, primary_key=True),
    sa.Column("institution_code", sa.String),
    sa.Column("accession_numbers", sa.Text),
    sa.Column("image_total_num", sa.Integer),
    sa.Column("received", sa.Integer),
    sa.Column("registered_at", sa.DateTime),
)
_instance = sa.Table(
    "instance", _metadata, sa.Column("sop_instance_uid", sa.String, primary_key=True), sa.Column("hi_img_indx", sa.String)
)
_dicomweb_instance = sa.Table(
    "dicomweb_instance",
    _metadata,
    sa.Column("sop_instance_uid", sa.String, primary_key=True),
    sa.Column("hi_img_indx", sa.String),
)
_report = sa.Table(
    "report",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hi_img_indx", sa.String),
    sa.Column("rpot_no", sa.String),
    sa.Column("version", sa.Integer),
    sa.Column("received_at", sa.DateTime),
)
_VERSION_COLUMNS = ("institution_code", "msgid", "record", "received_at")


def upgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    # NOT NULL from the start on SQLite, which cannot add it later without copying the table (batch mode), and a copy
    # of exam_record fails on the rows that refer to it (foreign keys are on); '' is there only until the fill below.
    op.add_column(
        "exam_record",
        sa.Column("index_key", sa.String(length=100), nullable=not sqlite, server_default="" if sqlite else None),
    )
    connection.execute(sa.update(_exam).values(index_key=_exam.c.hi_img_indx))
    canonical = current().index.canonical
    groups: dict[str, list[str]] = defaultdict(list)
    for (index,) in connection.execute(sa.select(_exam.c.hi_img_indx)):
        groups[canonical(index)].append(index)
    for key, indexes in groups.items():
        if indexes != [key]:
            connection.execute(sa.update(_exam).where(_exam.c.hi_img_indx.in_(indexes)).values(index_key=key))
        if len(indexes) > 1:
            _merge(connection, indexes)
    if not sqlite:
        op.alter_column("exam_record", "index_key", existing_type=sa.String(length=100), nullable=False)
    op.create_index("ux_exam_record_index_key", "exam_record", ["index_key"], unique=True)


def _versions(connection: sa.Connection, index: str) -> list[dict[str, Any]]:
    """Every version of one exam (its history, then its current row), with when each was received."""
    past = connection.execute(
        sa.select(_history.c.version, *[_history.c[name] for name in _VERSION_COLUMNS]).where(_history.c.hi_img_indx == index)
    )
    now = connection.execute(
        sa.select(_exam.c.version, *[_exam.c[name] for name in _VERSION_COLUMNS]).where(_exam.c.hi_img_indx == index)
    )
    return [
        {**row._mapping, "index": index, "current": current} for rows, current in ((past, False), (now, True)) for row in rows
    ]


def _merge(connection: sa.Connection, indexes: list[str]) -> None:
    """The exams of `indexes` (one exam in several spellings) become the first-saved one, every version kept."""
    versions = [version for index in indexes for version in _versions(connection, index)]
    first = min(versions, key=lambda version: (version["received_at"], version["index"], version["version"]))
    kept, owner = first["index"], first["institution_code"]
    others = [index for index in indexes if index != kept]
    # The owner's newest version is current: always an exam's current row (§2.1 never let one institution's save
    # replace another's, so each exam's versions are all its owner's).
    newest = max((v for v in versions if v["institution_code"] == owner), key=lambda v: (v["received_at"], v["version"]))
    assert newest["current"]
    ordered = sorted(versions, key=lambda version: (version["received_at"], version["index"], version["version"]))
    ordered.remove(newest)
    ordered.append(newest)

    # First what refers to the exams (studies and settlements have foreign keys), then the exams themselves.
    _merge_studies(connection, kept, others)
    connection.execute(sa.update(_instance).where(_instance.c.hi_img_indx.in_(others)).values(hi_img_indx=kept))
    connection.execute(
        sa.update(_dicomweb_instance).where(_dicomweb_instance.c.hi_img_indx.in_(others)).values(hi_img_indx=kept)
    )
    _merge_reports(connection, kept, others)
    connection.execute(sa.delete(_setl).where(_setl.c.hi_img_indx.in_([i for i in indexes if i != newest["index"]])))
    connection.execute(sa.update(_setl).where(_setl.c.hi_img_indx == newest["index"]).values(hi_img_indx=kept))
    connection.execute(sa.delete(_history).where(_history.c.hi_img_indx.in_(indexes)))
    for number, version in enumerate(ordered[:-1], start=1):
        connection.execute(
            sa.insert(_history).values(
                hi_img_indx=kept,
                version=number,
                replaced_at=ordered[number]["received_at"],
                **{name: version[name] for name in _VERSION_COLUMNS},
            )
        )
    connection.execute(sa.delete(_exam).where(_exam.c.hi_img_indx.in_(others)))
    record = newest["record"]  # the key columns as §2.1 writes them from a record
    connection.execute(
        sa.update(_exam)
        .where(_exam.c.hi_img_indx == kept)
        .values(
            version=len(ordered),
            psn_cert_type=record["psnCertType"],
            certno=record["certno"].upper(),
            exam_date=record["examDate"],
            study_uid=record["studyUid"],
            **{name: newest[name] for name in _VERSION_COLUMNS},
        )
    )


def _merge_studies(connection: sa.Connection, kept: str, others: list[str]) -> None:
    studies = [
        dict(row._mapping) for row in connection.execute(sa.select(_study).where(_study.c.hi_img_indx.in_([kept, *others])))
    ]
    by_uid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for study in studies:
        by_uid[study["study_uid"]].append(study)
    connection.execute(sa.delete(_study).where(_study.c.hi_img_indx.in_(others)))
    for uid, registrations in by_uid.items():
        latest = max(registrations, key=lambda study: study["registered_at"])
        first = min(registrations, key=lambda study: study["registered_at"])
        merged = {
            **latest,
            "hi_img_indx": kept,
            "received": sum(study["received"] for study in registrations),
            "registered_at": first["registered_at"],
        }
        connection.execute(sa.delete(_study).where(_study.c.hi_img_indx == kept, _study.c.study_uid == uid))
        connection.execute(sa.insert(_study).values(**merged))


def _merge_reports(connection: sa.Connection, kept: str, others: list[str]) -> None:
    reports = connection.execute(
        sa.select(_report.c.id, _report.c.rpot_no, _report.c.received_at, _report.c.version)
        .where(_report.c.hi_img_indx.in_([kept, *others]))
        .order_by(_report.c.received_at, _report.c.id)
    ).all()
    # negative first, so that no two rows of a report number share a version while they are renumbered
    connection.execute(
        sa.update(_report).where(_report.c.hi_img_indx.in_([kept, *others])).values(hi_img_indx=kept, version=-_report.c.id)
    )
    numbered: dict[str, int] = defaultdict(int)
    for report in reports:
        numbered[report.rpot_no] += 1
        connection.execute(
            sa.update(_report).where(_report.c.id == report.id).values(hi_img_indx=kept, version=numbered[report.rpot_no])
        )


def downgrade() -> None:
    op.drop_index("ux_exam_record_index_key", table_name="exam_record")
    if op.get_bind().dialect.name == "sqlite":  # in place (SQLite 3.35): batch mode's copy would break foreign keys
        op.execute("ALTER TABLE exam_record DROP COLUMN index_key")
    else:
        op.drop_column("exam_record", "index_key")
