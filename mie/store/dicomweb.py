"""The DICOMweb index's reads and writes (table `dicomweb_instance`, revision 0004_dicomweb), on a repository's
connection: QIDO-RS searches answered by the database (matching, grouping by study and series, counting, paging),
and the rows WADO-RS retrieves by. Every read is narrowed by a `Scope`: the institution's own instances, or one
exam's (a link's token root)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mie.store.repository import Repository, _Direct
from mie.store.tables import DicomwebInstance, DicomwebSeries, Instance

_index = DicomwebInstance.__table__  # type: ignore[attr-defined]
_instance = Instance.__table__  # type: ignore[attr-defined]
_series = DicomwebSeries.__table__  # type: ignore[attr-defined]
_DIRECT_INSERT = _Direct(insert(_index))

Level = Literal["study", "series", "instance"]
MatchKind = Literal["uids", "range", "wildcard", "exact", "integer", "modalities"]


@dataclass(frozen=True)
class Scope:
    """Whose instances a request reaches: an institution's (those it uploaded) or one exam's (a link's)."""

    institution_code: str | None = None
    hi_img_indx: str | None = None

    def condition(self) -> ColumnElement[bool]:
        if self.hi_img_indx is not None:
            return _index.c.hi_img_indx == self.hi_img_indx
        assert self.institution_code is not None
        return _index.c.institution_code == self.institution_code


@dataclass(frozen=True)
class Match:
    """One QIDO matching key, as the service parsed it: `values` are UIDs or modalities (a list), a range's two
    ends ("" for an open end), a pattern with SQL wildcards (`wildcard`, already escaped with backslash), or one
    value. `folded`: compared lower-cased on both sides (person names); anything else is compared case-sensitively,
    wildcards included (PS3.4 C.2.2.2.4)."""

    column: str
    kind: MatchKind
    values: tuple[str, ...]
    folded: bool = False


def add_entry(repository: Repository, entry: dict[str, Any], raise_revision: bool = True) -> None:
    """The instance's entry; its series' revision raised with it unless the caller raises it (`raise_revisions`)
    before its commit."""
    _DIRECT_INSERT.execute(repository.connection, entry)
    if raise_revision:
        raise_revisions(repository.connection, [(entry["study_uid"], entry["series_uid"])])


def _raising(dialect: Any) -> _Direct:
    statement = dialect.insert(_series).values(study_uid=bindparam("study_uid"), series_uid=bindparam("series_uid"), revision=1)
    return _Direct(
        statement.on_conflict_do_update(index_elements=["study_uid", "series_uid"], set_={"revision": _series.c.revision + 1})
    )


# on the cursor (as every stored instance's other statements): built and run through SQLAlchemy's execution, this
# statement cost more CPU than the rest of the instance's transaction
_RAISE_REVISION = {"postgresql": _raising(postgresql), "sqlite": _raising(sqlite)}


def raise_revisions(connection: Connection, series: Iterable[tuple[str, str]]) -> None:
    """Raise the revision of each series (study UID, series UID) whose instances this transaction changes. In
    sorted order: two transactions raising the same series lock their rows in the same order (no deadlock on
    PostgreSQL, where the second waits for the first's commit and raises what it committed)."""
    raising = _RAISE_REVISION["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    for study_uid, series_uid in sorted(set(series)):
        raising.execute(connection, {"study_uid": study_uid, "series_uid": series_uid})


def series_of_exam(connection: Connection, hi_img_indx: str) -> list[tuple[str, str]]:
    """The series (study UID, series UID) an exam's DICOMweb entries belong to."""
    query = select(_index.c.study_uid, _index.c.series_uid).where(_index.c.hi_img_indx == hi_img_indx).distinct()
    return [(study_uid, series_uid) for study_uid, series_uid in connection.execute(query)]


@dataclass(frozen=True)
class Unindexed:
    sop_instance_uid: str
    hi_img_indx: str
    institution_code: str
    transfer_syntax_uid: str
    path: str


def instances_without_entry(repository: Repository) -> list[Unindexed]:
    """Stored instances that have no DICOMweb entry (stored before revision 0004_dicomweb)."""
    query = (
        select(
            _instance.c.sop_instance_uid,
            _instance.c.hi_img_indx,
            _instance.c.institution_code,
            _instance.c.transfer_syntax_uid,
            _instance.c.path,
        )
        .select_from(_instance.outerjoin(_index, _index.c.sop_instance_uid == _instance.c.sop_instance_uid))
        .where(_index.c.sop_instance_uid.is_(None))
    )
    return [Unindexed(*row) for row in repository.connection.execute(query)]


def _condition(match: Match, dialect: str) -> ColumnElement[bool]:
    column = _index.c[match.column] if match.kind != "modalities" else _index.c.modality
    if match.kind == "uids":
        return column.in_(match.values)
    if match.kind == "modalities":  # ModalitiesInStudy: the study has a series of one of them
        other = _index.alias("other")
        return exists().where(other.c.study_uid == _index.c.study_uid, other.c.modality.in_(match.values))
    if match.kind == "integer":
        return column == int(match.values[0])
    if match.kind == "range":
        low, high = match.values
        parts = [column != ""]
        if low:
            parts.append(column >= low)
        if high:
            # a time or date-time given to a lower precision includes the whole of its last unit
            parts.append(column <= high + ("\uffff" if len(high) < 8 or match.column.endswith("time") else ""))
        return and_(*parts)
    value = match.values[0]
    if match.folded:
        value = value.lower()
        target = func.lower(column)
    else:
        target = column
    if match.kind == "wildcard":
        if dialect == "sqlite" and not match.folded:  # SQLite's LIKE ignores the case of ASCII letters; GLOB does not
            return target.op("GLOB")(_glob(value))
        return target.like(value, escape="\\")
    if match.column in ("patient_name", "referring_physician_name"):
        # a name matches its alphabetic group, or the whole value (Alphabetic=Ideographic=Phonetic)
        return or_(
            target == value, target.like(value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "=%", escape="\\")
        )
    return target == value


def _glob(pattern: str) -> str:
    """A LIKE pattern (escaped with backslash) as a GLOB pattern: % and _ become * and ?, a literal *, ? or [ a
    one-character class."""
    out, characters = [], iter(pattern)
    for character in characters:
        if character == "\\":
            character = next(characters, "")
            out.append(f"[{character}]" if character in "*?[" else character)
        elif character in "*?[":
            out.append(f"[{character}]")
        else:
            out.append({"%": "*", "_": "?"}.get(character, character))
    return "".join(out)


def _where(repository: Repository, scope: Scope, matches: Sequence[Match]) -> list[ColumnElement[bool]]:
    dialect = repository.connection.dialect.name
    return [scope.condition(), *(_condition(match, dialect) for match in matches)]


_STUDY_TEXTS = (
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
)
_SERIES_TEXTS = ("modality", "series_description")


def search_studies(
    repository: Repository, scope: Scope, matches: Sequence[Match], limit: int, offset: int
) -> list[dict[str, Any]]:
    """Studies with an instance matching every key, the most recent first: their study attributes, how many series
    and instances they have in scope, and one of their instances (`representative`) for other attributes."""
    query = (
        select(
            _index.c.study_uid,
            *[func.min(_index.c[name]).label(name) for name in _STUDY_TEXTS],
            func.count(func.distinct(_index.c.series_uid)).label("series_count"),
            func.count().label("instance_count"),
            func.min(_index.c.sop_instance_uid).label("representative"),
        )
        .where(*_where(repository, scope, matches))
        .group_by(_index.c.study_uid)
        .order_by(func.max(_index.c.study_date).desc(), func.max(_index.c.study_time).desc(), _index.c.study_uid)
        .limit(limit)
        .offset(offset)
    )
    rows = [dict(row._mapping) for row in repository.connection.execute(query)]
    if rows:
        # counted over the whole study in scope, not only its matching instances
        counts = (
            select(_index.c.study_uid, func.count(func.distinct(_index.c.series_uid)), func.count())
            .where(scope.condition(), _index.c.study_uid.in_([row["study_uid"] for row in rows]))
            .group_by(_index.c.study_uid)
        )
        totals = {uid: (series, instances) for uid, series, instances in repository.connection.execute(counts)}
        for row in rows:
            row["series_count"], row["instance_count"] = totals.get(row["study_uid"], (0, 0))
    return rows


def modalities_of_studies(repository: Repository, scope: Scope, study_uids: Sequence[str]) -> dict[str, list[str]]:
    query = (
        select(_index.c.study_uid, _index.c.modality)
        .where(scope.condition(), _index.c.study_uid.in_(study_uids), _index.c.modality != "")
        .distinct()
        .order_by(_index.c.study_uid, _index.c.modality)
    )
    found: dict[str, list[str]] = {}
    for study_uid, modality in repository.connection.execute(query):
        found.setdefault(study_uid, []).append(modality)
    return found


def search_series(
    repository: Repository, scope: Scope, matches: Sequence[Match], limit: int, offset: int
) -> list[dict[str, Any]]:
    """Series with an instance matching every key, by study, then Series Number (none last), then UID."""
    number = func.min(_index.c.series_number)
    query = (
        select(
            _index.c.study_uid,
            _index.c.series_uid,
            *[func.min(_index.c[name]).label(name) for name in (*_STUDY_TEXTS, *_SERIES_TEXTS)],
            number.label("series_number"),
            func.count().label("instance_count"),
            func.min(_index.c.sop_instance_uid).label("representative"),
        )
        .where(*_where(repository, scope, matches))
        .group_by(_index.c.study_uid, _index.c.series_uid)
        .order_by(_index.c.study_uid, number.is_(None), number, _index.c.series_uid)
        .limit(limit)
        .offset(offset)
    )
    return [dict(row._mapping) for row in repository.connection.execute(query)]


_INSTANCE_COLUMNS = [c for c in _index.c if c.name not in ("dicom_json", "header", "hi_img_indx", "institution_code")]


def search_instances(
    repository: Repository, scope: Scope, matches: Sequence[Match], limit: int, offset: int
) -> list[dict[str, Any]]:
    """Instances matching every key, by study, series (Series Number, none last) and Instance Number (none last)."""
    query = (
        select(*_INSTANCE_COLUMNS, _index.c.sop_instance_uid.label("representative"))
        .where(*_where(repository, scope, matches))
        .order_by(_index.c.study_uid, *_IN_SERIES_ORDER)
        .limit(limit)
        .offset(offset)
    )
    return [dict(row._mapping) for row in repository.connection.execute(query)]


@dataclass(frozen=True)
class MetadataRow:
    """An instance's metadata as kept: its DICOM JSON, or (until it is built) the header's bytes it is built from."""

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    rows: int | None
    dicom_json: str | None
    header: bytes | None


_METADATA_COLUMNS = [
    _index.c[name]
    for name in (
        "sop_instance_uid",
        "study_uid",
        "series_uid",
        "sop_class_uid",
        "transfer_syntax_uid",
        "rows",
        "dicom_json",
        "header",
    )
]
_SET_METADATA = (
    update(_index)
    .where(_index.c.sop_instance_uid == bindparam("uid"), _index.c.dicom_json.is_(None))
    .values(dicom_json=bindparam("document"), header=None)
)


def metadata_of(repository: Repository, sop_instance_uids: Sequence[str]) -> list[MetadataRow]:
    """The kept metadata of these instances."""
    if not sop_instance_uids:
        return []
    query = select(*_METADATA_COLUMNS).where(_index.c.sop_instance_uid.in_(sop_instance_uids))
    return [MetadataRow(*row) for row in repository.connection.execute(query)]


def set_metadata(repository: Repository, documents: dict[str, str]) -> None:
    """Keep the DICOM JSON built for these instances (their header bytes are then dropped: the JSON holds them)."""
    if documents:
        repository.connection.execute(_SET_METADATA, [{"uid": uid, "document": document} for uid, document in documents.items()])


# Series by Series Number, then instances by Instance Number (each: none last), then by UID.
_IN_SERIES_ORDER = (
    _index.c.series_number.is_(None),
    _index.c.series_number,
    _index.c.series_uid,
    _index.c.instance_number.is_(None),
    _index.c.instance_number,
    _index.c.sop_instance_uid,
)


def _in_study(
    scope: Scope, study_uid: str, series_uid: str | None = None, sop_instance_uid: str | None = None
) -> list[ColumnElement[bool]]:
    conditions = [scope.condition(), _index.c.study_uid == study_uid]
    if series_uid is not None:
        conditions.append(_index.c.series_uid == series_uid)
    if sop_instance_uid is not None:
        conditions.append(_index.c.sop_instance_uid == sop_instance_uid)
    return conditions


@dataclass(frozen=True)
class StoredInstanceRef:
    """An instance as WADO-RS retrieves it: where it is, its file, its exam (for the audit)."""

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    hi_img_indx: str
    path: str
    size: int
    number_of_frames: int | None
    rows: int | None


def instances_in(
    repository: Repository, scope: Scope, study_uid: str, series_uid: str | None = None, sop_instance_uid: str | None = None
) -> list[StoredInstanceRef]:
    """The instances in scope of a study (a series, an instance), in series and instance order."""
    conditions = _in_study(scope, study_uid, series_uid, sop_instance_uid)
    query = (
        select(
            _index.c.sop_instance_uid,
            _index.c.study_uid,
            _index.c.series_uid,
            _index.c.sop_class_uid,
            _index.c.transfer_syntax_uid,
            _index.c.hi_img_indx,
            _instance.c.path,
            _instance.c.size,
            _index.c.number_of_frames,
            _index.c.rows,
        )
        .select_from(_index.join(_instance, _instance.c.sop_instance_uid == _index.c.sop_instance_uid))
        .where(*conditions)
        .order_by(*_IN_SERIES_ORDER)
    )
    return [StoredInstanceRef(*row) for row in repository.connection.execute(query)]


def series_metadata(repository: Repository, scope: Scope, study_uid: str, series_uid: str | None) -> list[MetadataRow]:
    """The kept metadata of a study's (or series') instances in scope, in series and instance order."""
    query = select(*_METADATA_COLUMNS).where(*_in_study(scope, study_uid, series_uid)).order_by(*_IN_SERIES_ORDER)
    return [MetadataRow(*row) for row in repository.connection.execute(query)]


def series_revision(
    repository: Repository, scope: Scope, study_uid: str, series_uid: str | None
) -> tuple[tuple[int, int], str | None]:
    """What changes whenever a series (a study: any of its series) gains or loses an instance: its revision (of a
    study, the sum of its series' and how many there are), read from `dicomweb_series` without reading the
    instances; and the exam of one of its instances in scope (None when the caller reaches none)."""
    where = [_series.c.study_uid == study_uid]
    if series_uid is not None:
        where.append(_series.c.series_uid == series_uid)
    revision = select(func.coalesce(func.sum(_series.c.revision), 0)).where(*where).scalar_subquery()
    series = select(func.count()).select_from(_series).where(*where).scalar_subquery()
    exam = select(_index.c.hi_img_indx).where(*_in_study(scope, study_uid, series_uid)).limit(1).scalar_subquery()
    total, count, hi_img_indx = repository.connection.execute(select(revision, series, exam)).one()
    return (int(total), int(count)), hi_img_indx
