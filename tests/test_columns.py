"""Database columns that hold spec fields take their lengths from the spec: no value a transaction accepts can
fail in PostgreSQL (a hand-kept 64 once stood beside a §2.3 studyUid of 512)."""

from __future__ import annotations

import re

from sqlalchemy import inspect
from sqlmodel import SQLModel

from mie.contract import current
from mie.store import tables  # noqa: F401 - registers the tables
from mie.store.database import Database

CONTRACT = current()


def _camel(name: str) -> str:
    return re.sub(r"_(\w)", lambda match: match.group(1).upper(), name)


def _spec_length(name: str) -> int | None:
    try:
        return CONTRACT.max_length(name)
    except KeyError:
        return None


def test_every_column_holding_a_spec_field_reads_its_length_from_the_spec() -> None:
    checked = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if getattr(column.type, "length", None) is None:  # sqlmodel's AutoString is no sqlalchemy String
                continue
            fields = column.info.get("spec_fields")
            if fields is None:
                # A column named after a spec field that does not say so would be a hand-kept length.
                assert _spec_length(_camel(column.name)) is None, f"{table.name}.{column.name} holds a spec field"
                continue
            assert column.type.length == CONTRACT.max_length(*fields), f"{table.name}.{column.name}"
            checked.append(f"{table.name}.{column.name}")
    assert {"exam_record.study_uid", "study.study_uid", "report.study_uid", "instance.sop_instance_uid"} <= set(checked)
    assert len(checked) > 20


def test_the_database_has_the_specs_lengths(database: Database) -> None:
    """On SQLite and PostgreSQL: the tables as created (not only as declared) take the spec's lengths."""
    inspector = inspect(database.engine)  # PostgreSQL: the test's own schema is first on the search path
    for table in SQLModel.metadata.sorted_tables:
        created = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            fields = column.info.get("spec_fields")
            if fields:
                length = getattr(created[column.name], "length", None)
                assert length == CONTRACT.max_length(*fields), f"{table.name}.{column.name}"
    assert CONTRACT.max_length("studyUid") == 64 and CONTRACT.max_length("hiImgIndx") == 100


def test_the_file_stores_uid_rule_is_the_specs() -> None:
    """E-UID: what may name a file on disk is what the spec accepts as a UID, and a trailing newline is neither."""
    from mie.store.files import UID_PATTERN, UnsafeName, checked_uid

    rule = CONTRACT.component("FileSnDTO")["properties"]["instUuid"]
    assert rule["pattern"].replace(r"\d", "[0-9]") == UID_PATTERN.pattern and rule["maxLength"] == 64
    for bad in ("1.2.3\n", "1.2.03", "1." + "2" * 63, "../1.2"):
        try:
            checked_uid(bad)
        except UnsafeName:
            continue
        raise AssertionError(f"{bad!r} taken as a UID")
    assert checked_uid("1.2.840.10008.1.2") == "1.2.840.10008.1.2"
