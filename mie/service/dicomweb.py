"""DICOMweb (DICOM PS3.18) over mie's store and index: QIDO-RS, WADO-RS, STOW-RS, WADO-URI, and who may see what.

Who: an institution, by HTTP Basic with its code and key (checked as the envelope's key is: the scrypt hash once,
then a verified pair is remembered), reaches the studies it uploaded, and stores into studies it registered
(§2.3), through the same ingest as C-STORE and §2.2. Any other institution reaches a study only through a §2.6
image link: `link_root` turns the link's token into a token of a read-only DICOMweb root for that exam, which
expires with the link. Another institution's study is answered 404 exactly as a study that does not exist.

What: QIDO-RS is answered from the index (`dicomweb_instance`, filled at ingest: mie/service/dicomweb_index.py),
never from files; metadata is the stored DICOM JSON with the caller's root put in front of every BulkDataURI,
and a series' (or study's) metadata is gzipped once and kept in memory until the series changes. Retrieve,
frames, bulk data and rendered images read the stored file through the store. Every request that reaches a
study, and every refusal, is audited (Access.dicomweb), as §2.6-§2.8 are.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import io
import json
import logging
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pydicom
from PIL import Image
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.encaps import get_frame
from pydicom.pixels import pixel_array
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from mie.runtime import Runtime
from mie.service.answers import MieError
from mie.service.audit import Access, AccessEvent
from mie.service.dicomweb_index import PIXEL_DATA, Identity, backfill, instance_path, metadata_document, with_root
from mie.service.ingest import (
    CANNOT_UNDERSTAND,
    HEADER_PREFIX,
    OUT_OF_RESOURCES,
    STATUS_OF_REFUSAL,
    IngestRefused,
    ingest_instance,
    read_spooled,
)
from mie.service.institutions import authenticate
from mie.service.links import LinkRefused, Page, PageGrant
from mie.service.part10 import Irregular, integer_string, scannable, split_file, top_level_elements
from mie.service.render import RenderError, Window, render
from mie.store import dicomweb as index
from mie.store.dicomweb import Match, Scope, StoredInstanceRef
from mie.store.files import Spooled

log = logging.getLogger("mie.dicomweb")

ROOT = "/dicom-web"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
THUMBNAIL = 128  # pixels, the longer side of a thumbnail


class DicomwebRefused(Exception):
    """A request not served: `status` (401, 403, 404, 406, 410, 400...), `reason` (says nothing of a study the
    caller may not reach), `headers` (WWW-Authenticate on 401)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers or {}
        super().__init__(reason)


NOT_FOUND = "not found (未找到)"


@dataclass(frozen=True)
class Caller:
    """Who asks, what they reach (`scope`), the root their URLs are built under, and from where."""

    institution_code: str
    scope: Scope
    root: str  # absolute: the public URL, /dicom-web, and the token for a link's root
    client: str | None
    read_only: bool


# --- who --------------------------------------------------------------------------------------------------------------
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="mie DICOMweb", charset="UTF-8"'}


def admit_basic(runtime: Runtime, authorization: str | None, client: str | None) -> Caller:
    """The institution whose code and key the Basic credentials carry; 401 (audited) otherwise."""
    code, key = _basic(authorization)
    if code is not None:
        try:
            with runtime.database.unit_of_work() as repository:
                authenticate(repository, code, key)  # scrypt once per (code, key), then remembered (institutions.py)
            root = f"{runtime.settings.effective_public_url}{ROOT}"
            return Caller(code, Scope(institution_code=code), root, client, read_only=False)
        except MieError:
            pass
    # the code as sent, cut to the column's length (it may be anything)
    event = AccessEvent(Access.dicomweb, (code or "-")[:30], client, outcome="refused", detail="DICOMweb: 凭据缺失或错误")
    _audit(runtime, event)
    raise DicomwebRefused(401, "credentials missing or wrong (需要机构编号和密钥: HTTP Basic)", _CHALLENGE)


def _basic(authorization: str | None) -> tuple[str | None, str | None]:
    if not authorization or not authorization[:6].lower() == "basic ":
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    code, colon, key = decoded.partition(":")
    return (code, key) if colon and code else (None, None)


def admit_token(runtime: Runtime, token: str, client: str | None) -> Caller:
    """The read-only root of one exam that a DICOMweb token grants (see `link_root`); 403 for a token that was
    altered, 410 once it expired or its exam was deleted (audited)."""
    grant = _open_grant(runtime, token, Page.dicomweb, client)
    root = f"{runtime.settings.effective_public_url}{ROOT}/t/{token}"
    return Caller(grant.institution_code, Scope(hi_img_indx=grant.hi_img_indx), root, client, read_only=True)


def link_root(runtime: Runtime, image_token: str, client: str | None) -> tuple[str, int]:
    """The DICOMweb root (URL, and when it expires) of the exam a §2.6 image link grants: a token of its own,
    bound to the same exam and institution, expiring when the link does, the same for every opening of the link."""
    grant = _open_grant(runtime, image_token, Page.image, client)
    # the same root each time the link is opened: the metadata kept for that root serves the next opening
    token = runtime.links.derive(image_token, grant, Page.dicomweb)
    return f"{runtime.settings.effective_public_url}{ROOT}/t/{token}", grant.expires_at


def _open_grant(runtime: Runtime, token: str, page: Page, client: str | None) -> PageGrant:
    try:
        grant = runtime.links.open(token, page)
    except LinkRefused as refusal:
        try:
            expired: PageGrant | None = runtime.links.open(token, page, now=0)
        except LinkRefused:
            expired = None
        event = AccessEvent(
            Access.dicomweb,
            expired.institution_code if expired else "-",
            client,
            hi_img_indx=expired.hi_img_indx if expired else None,
            outcome="refused",
            detail=f"DICOMweb 令牌: {refusal.reason}",
        )
        _audit(runtime, event)
        raise DicomwebRefused(410 if expired else 403, refusal.reason) from None
    with runtime.database.unit_of_work() as repository:
        exists = repository.exam(grant.hi_img_indx) is not None
    if not exists:
        _audit(
            runtime, _event(runtime, grant.institution_code, client, grant.hi_img_indx, outcome="refused", detail="该检查已删除")
        )
        raise DicomwebRefused(410, "该检查已删除或不存在")
    return grant


def _event(runtime: Runtime, institution: str, client: str | None, hi_img_indx: str | None, **values: Any) -> AccessEvent:
    """An access event naming the person of the exam, when there is one exam."""
    person: tuple[str | None, str | None] = (None, None)
    if hi_img_indx is not None:
        with runtime.database.unit_of_work() as repository:
            exam = repository.exam(hi_img_indx)
        if exam is not None:
            person = (exam.record.get("psnCertType"), exam.record.get("certno"))
    return AccessEvent(Access.dicomweb, institution, client, person[0], person[1], hi_img_indx, **values)


def _audit(runtime: Runtime, event: AccessEvent) -> None:
    runtime.audit.record(event)


def _ready(runtime: Runtime) -> None:
    """Instances stored before revision 0004_dicomweb are indexed on the first request (once per process)."""
    backfill(runtime.database, runtime.store)


# --- QIDO-RS ----------------------------------------------------------------------------------------------------------
# The matching keys, by level: keyword -> (column, how it matches). Study keys match at every level, series keys at
# series and instance level, instance keys at instance level (PS3.18 Table 10.6.1-5).
_UID, _DATE, _TIME, _NAME, _TEXT, _NUMBER, _MODALITIES = "uids", "date", "time", "name", "text", "integer", "modalities"
STUDY_KEYS = {
    "StudyInstanceUID": ("study_uid", _UID),
    "PatientName": ("patient_name", _NAME),
    "PatientID": ("patient_id", _TEXT),
    "PatientBirthDate": ("patient_birth_date", _DATE),
    "PatientSex": ("patient_sex", _TEXT),
    "StudyDate": ("study_date", _DATE),
    "StudyTime": ("study_time", _TIME),
    "AccessionNumber": ("accession_number", _TEXT),
    "StudyDescription": ("study_description", _TEXT),
    "ReferringPhysicianName": ("referring_physician_name", _NAME),
    "StudyID": ("study_id", _TEXT),
    "ModalitiesInStudy": ("modality", _MODALITIES),
}
SERIES_KEYS = {
    "SeriesInstanceUID": ("series_uid", _UID),
    "Modality": ("modality", _TEXT),
    "SeriesDescription": ("series_description", _TEXT),
    "SeriesNumber": ("series_number", _NUMBER),
}
INSTANCE_KEYS = {
    "SOPInstanceUID": ("sop_instance_uid", _UID),
    "SOPClassUID": ("sop_class_uid", _UID),
    "InstanceNumber": ("instance_number", _NUMBER),
}
_KEYS_AT = {
    "study": STUDY_KEYS,
    "series": {**STUDY_KEYS, **SERIES_KEYS},
    "instance": {**STUDY_KEYS, **SERIES_KEYS, **INSTANCE_KEYS},
}
# What each level returns by default (PS3.18 Table 10.6.3-3), besides the counts and the Retrieve URL: keyword -> column
STUDY_RETURNED = {
    "StudyDate": "study_date",
    "StudyTime": "study_time",
    "AccessionNumber": "accession_number",
    "ReferringPhysicianName": "referring_physician_name",
    "StudyDescription": "study_description",
    "PatientName": "patient_name",
    "PatientID": "patient_id",
    "PatientBirthDate": "patient_birth_date",
    "PatientSex": "patient_sex",
    "StudyInstanceUID": "study_uid",
    "StudyID": "study_id",
}
SERIES_RETURNED = {
    "Modality": "modality",
    "SeriesDescription": "series_description",
    "SeriesInstanceUID": "series_uid",
    "SeriesNumber": "series_number",
}
INSTANCE_RETURNED = {
    "SOPClassUID": "sop_class_uid",
    "SOPInstanceUID": "sop_instance_uid",
    "InstanceNumber": "instance_number",
    "Rows": "rows",
    "Columns": "columns",
    "NumberOfFrames": "number_of_frames",
}
_RESERVED = {"limit", "offset", "fuzzymatching", "includefield"}


@dataclass(frozen=True)
class Query:
    matches: list[Match]
    include: set[str]  # tags (8 hex digits) asked for by includefield
    include_all: bool
    limit: int
    offset: int


def parse_query(level: str, parameters: Sequence[tuple[str, str]], fixed: dict[str, str]) -> Query:
    """QIDO's query parameters (keywords or tags) as matches; `fixed` are the path's UIDs. 400 for a malformed
    limit, offset or date range; keys this level does not match on are ignored (PS3.18 10.6.1.2.2: may be)."""
    keys = _KEYS_AT[level]
    fuzzy = any(name == "fuzzymatching" and value.lower() == "true" for name, value in parameters)
    matches: list[Match] = []
    include: set[str] = set()
    include_all = False
    limit, offset = DEFAULT_LIMIT, 0
    for name, value in [*parameters, *fixed.items()]:
        if name == "includefield":
            for field in re.split(r"[,\s]+", value):
                if field == "all":
                    include_all = True
                elif tag := _tag(field):
                    include.add(tag)
            continue
        if name in ("limit", "offset"):
            if not value.isdigit():
                raise DicomwebRefused(400, f"{name} must be a non-negative integer")
            if name == "limit":
                limit = min(max(int(value), 1), MAX_LIMIT)
            else:
                offset = int(value)
            continue
        if name in _RESERVED:
            continue
        keyword = _keyword(name)
        if keyword is None or keyword not in keys:
            continue
        include.add(_tag(keyword) or "")
        if value == "":
            continue  # universal matching: returned, not matched
        column, how = keys[keyword]
        matches.append(_match(column, how, value, fuzzy))
    return Query(matches, include, include_all, limit, offset)


def _keyword(name: str) -> str | None:
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return keyword_for_tag(int(name, 16)) or None
    return name if tag_for_keyword(name) is not None else None


def _tag(name: str) -> str | None:
    if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
        return name.upper()
    tag = tag_for_keyword(name)
    return f"{tag:08X}" if tag is not None else None


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _match(column: str, how: str, value: str, fuzzy: bool) -> Match:
    if how in (_UID, _MODALITIES):
        values = tuple(part.strip() for part in re.split(r"[,\\]", value) if part.strip())
        return Match(column, "uids" if how == _UID else "modalities", values)
    if how in (_DATE, _TIME) and "-" in value:
        low, _, high = value.partition("-")
        if not re.fullmatch(r"[0-9.]*", low + high):
            raise DicomwebRefused(400, f"malformed range: {value[:40]}")
        return Match(column, "range", (low, high))
    if how == _NUMBER:
        if not re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
            raise DicomwebRefused(400, "a number is expected")
        return Match(column, "integer", (value.strip(),))
    if how == _NAME and fuzzy and "*" not in value and "?" not in value:
        return Match(column, "wildcard", (f"%{_like(value)}%",), folded=True)
    if "*" in value or "?" in value:  # case-sensitive but for person names (PS3.4 C.2.2.2.4)
        return Match(column, "wildcard", (_like(value),), folded=how == _NAME)
    return Match(column, "exact", (value,), folded=how == _NAME)


def search(runtime: Runtime, caller: Caller, level: str, fixed: dict[str, str], parameters: Sequence[tuple[str, str]]) -> bytes:
    """QIDO-RS at `level` ("study", "series", "instance"): the DICOM JSON array of matches (UTF-8)."""
    _ready(runtime)
    query = parse_query(level, parameters, fixed)
    with runtime.database.unit_of_work() as repository:
        if level == "study":
            rows = index.search_studies(repository, caller.scope, query.matches, query.limit, query.offset)
            modalities = index.modalities_of_studies(repository, caller.scope, [row["study_uid"] for row in rows])
        elif level == "series":
            rows = index.search_series(repository, caller.scope, query.matches, query.limit, query.offset)
        else:
            rows = index.search_instances(repository, caller.scope, query.matches, query.limit, query.offset)
        # the representative's metadata: for the default attributes the index has no column for, and includefield
        kept = index.metadata_of(repository, [row["representative"] for row in rows]) if rows else []
    extra = dict(zip((row.sop_instance_uid for row in kept), _documents(runtime, kept), strict=True))
    answers = []
    for row in rows:
        answer = _returned(caller, level, row)
        if level == "study":
            answer["00080061"] = _element("ModalitiesInStudy", "\\".join(modalities.get(row["study_uid"], [])))
        if row["representative"] in extra:
            metadata = json.loads(extra[row["representative"]])
            _from_metadata(answer, metadata, level)
            _include(answer, metadata, level, query)
        answers.append(dict(sorted(answer.items())))
    study = fixed.get("StudyInstanceUID")
    single = study if study is not None and level != "study" else None
    hi_img_indx = caller.scope.hi_img_indx
    _audit(
        runtime,
        _event(
            runtime,
            caller.institution_code,
            caller.client,
            hi_img_indx,
            items=len(answers),
            detail=f"QIDO-RS {level}" + (" (一个检查)" if single else ""),
        ),
    )
    return json.dumps(answers, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _returned(caller: Caller, level: str, row: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for keyword, column in STUDY_RETURNED.items():
        answer[_tag(keyword) or ""] = _element(keyword, row.get(column))
    answer["00080056"] = _element("InstanceAvailability", "ONLINE")
    study_url = f"{caller.root}/studies/{row['study_uid']}"
    if level == "study":
        answer["00201206"] = _element("NumberOfStudyRelatedSeries", row["series_count"])
        answer["00201208"] = _element("NumberOfStudyRelatedInstances", row["instance_count"])
        answer["00081190"] = _element("RetrieveURL", study_url)
        return answer
    for keyword, column in SERIES_RETURNED.items():
        answer[_tag(keyword) or ""] = _element(keyword, row.get(column))
    series_url = f"{study_url}/series/{row['series_uid']}"
    if level == "series":
        answer["00201209"] = _element("NumberOfSeriesRelatedInstances", row["instance_count"])
        answer["00081190"] = _element("RetrieveURL", series_url)
        return answer
    for keyword, column in INSTANCE_RETURNED.items():
        answer[_tag(keyword) or ""] = _element(keyword, row.get(column))
    answer["00081190"] = _element("RetrieveURL", f"{series_url}/instances/{row['sop_instance_uid']}")
    return answer


# The attributes each level returns by default (PS3.18 Table 10.6.3-3 to -5) that the index keeps no column for: from
# the metadata of the study's, series' or instance's representative, when it has them (tests/test_orthanc_differential.py
# compares them with Orthanc's).
FROM_METADATA = {
    "study": ("TimezoneOffsetFromUTC",),
    "series": (
        "TimezoneOffsetFromUTC",
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
        "RequestAttributeSequence",
    ),
    "instance": ("TimezoneOffsetFromUTC", "BitsAllocated"),
}


def _from_metadata(answer: dict[str, Any], metadata: dict[str, Any], level: str) -> None:
    for keyword in FROM_METADATA[level]:
        tag = _tag(keyword) or ""
        if tag in metadata and tag not in answer:
            answer[tag] = metadata[tag]


def _include(answer: dict[str, Any], metadata: dict[str, Any], level: str, query: Query) -> None:
    """Attributes asked for by includefield, from one instance of the study (series): with `all`, the patient's
    (group 0010) at study and series level, everything at instance level. Bulk data never."""
    for tag, element in metadata.items():
        if tag in answer or "BulkDataURI" in element or tag == PIXEL_DATA:
            continue
        if tag in query.include or (query.include_all and (level == "instance" or tag.startswith("0010"))):
            answer[tag] = element


def _element(keyword: str, value: Any) -> dict[str, Any]:
    """A DICOM JSON element of a value as the index keeps it ("" or None: present, empty)."""
    vr = dictionary_VR(keyword)
    if value is None or value == "":
        return {"vr": vr}
    if vr == "PN":
        groups = str(value).split("=")
        names = dict(zip(("Alphabetic", "Ideographic", "Phonetic"), groups, strict=False))
        return {"vr": vr, "Value": [{name: part for name, part in names.items() if part}]}
    if vr in ("IS", "US", "UL", "SL", "SS"):
        return {"vr": vr, "Value": [int(value)]}
    if isinstance(value, str) and vr in ("CS",) and "\\" in value:
        return {"vr": vr, "Value": value.split("\\")}
    return {"vr": vr, "Value": [value]}


# --- WADO-RS: which instances -----------------------------------------------------------------------------------------
def instances(
    runtime: Runtime,
    caller: Caller,
    study_uid: str,
    series_uid: str | None = None,
    sop_instance_uid: str | None = None,
    what: str = "WADO-RS",
) -> list[StoredInstanceRef]:
    """The instances of a study (series, instance) the caller reaches, audited; 404 when none (also for a study
    of another institution: nothing tells it apart)."""
    _ready(runtime)
    with runtime.database.unit_of_work() as repository:
        found = index.instances_in(repository, caller.scope, study_uid, series_uid, sop_instance_uid)
    hi_img_indx = found[0].hi_img_indx if found else caller.scope.hi_img_indx
    if not found:
        event = _event(runtime, caller.institution_code, caller.client, hi_img_indx, outcome="refused", detail=f"{what}: 未找到")
        _audit(runtime, event)
        raise DicomwebRefused(404, NOT_FOUND)
    size = sum(ref.size for ref in found) if what == "WADO-RS retrieve" else 0
    event = _event(runtime, caller.institution_code, caller.client, hi_img_indx, items=len(found), bytes_sent=size, detail=what)
    _audit(runtime, event)
    return found


def open_file(runtime: Runtime, ref: StoredInstanceRef) -> BinaryIO:
    return runtime.store.open_stored(Path(ref.path))


def read_whole(runtime: Runtime, refs: Sequence[StoredInstanceRef]) -> list[bytes]:
    """The stored files of `refs`, each whole (for answers small enough to be sent in one piece)."""
    parts = []
    for ref in refs:
        with open_file(runtime, ref) as file:
            parts.append(file.read())
    return parts


# --- WADO-RS: metadata ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cached:
    """A study's or series' metadata as sent: gzipped (what browsers ask for), and plain once a client asked for
    it; of the revision it was built at, and how many instances it describes."""

    version: tuple[int, int]
    gzipped: bytes
    items: int
    plain: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.gzipped) + len(self.plain or b"")


class _MetadataCache:
    """Answers by (root, scope, study, series), the least recently used dropped beyond `limit` bytes. Each process
    keeps its own; an answer is served only while its series' revision in the database is the one it was built at,
    so a change made through any process is seen by the next request to every process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._entries: OrderedDict[tuple[str, Scope, str, str | None], _Cached] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, Scope, str, str | None], version: tuple[int, int]) -> _Cached | None:
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or cached.version != version:
                return None
            self._entries.move_to_end(key)
            return cached

    def put(self, key: tuple[str, Scope, str, str | None], cached: _Cached) -> None:
        with self._lock:
            previous = self._entries.pop(key, None)
            self._bytes -= previous.size if previous is not None else 0
            self._entries[key] = cached
            self._bytes += cached.size
            while self._bytes > self.limit and len(self._entries) > 1:
                self._bytes -= self._entries.popitem(last=False)[1].size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


METADATA_CACHE_BYTES = 256 * 1024 * 1024
_metadata_cache = _MetadataCache(METADATA_CACHE_BYTES)
GZIP_LEVEL = 6


def metadata(
    runtime: Runtime, caller: Caller, study_uid: str, series_uid: str | None, sop_instance_uid: str | None, gzip_ok: bool
) -> tuple[bytes, bool]:
    """WADO-RS metadata of a study, series or instance: the DICOM JSON array (bytes, and whether gzipped). A
    study's or series' answer is built from the stored metadata, gzipped once, and kept until the series' revision
    changes (an instance stored or deleted, through any process)."""
    if sop_instance_uid is not None:
        refs = instances(runtime, caller, study_uid, series_uid, sop_instance_uid, what="WADO-RS metadata")
        with runtime.database.unit_of_work() as repository:
            kept = index.metadata_of(repository, [ref.sop_instance_uid for ref in refs])
        body = ("[" + ",".join(with_root(document, caller.root) for document in _documents(runtime, kept)) + "]").encode()
        return (gzip.compress(body, GZIP_LEVEL), True) if gzip_ok and len(body) > 1024 else (body, False)
    _ready(runtime)
    key = (caller.root, caller.scope, study_uid, series_uid)
    kept: list[index.MetadataRow] = []
    with runtime.database.unit_of_work() as repository:
        version, hi_img_indx = index.series_revision(repository, caller.scope, study_uid, series_uid)
        cached = _metadata_cache.get(key, version) if hi_img_indx is not None else None
        if cached is None and hi_img_indx is not None:
            kept = index.series_metadata(repository, caller.scope, study_uid, series_uid)
    if cached is None and kept:
        documents = _documents(runtime, kept)  # its own transaction: it may write (on SQLite, one writer at a time)
        body = ("[" + ",".join(with_root(document, caller.root) for document in documents) + "]").encode()
        # kept under the revision read before the instances: if one arrived in between, the next request rebuilds
        cached = _Cached(version, gzip.compress(body, GZIP_LEVEL), len(documents), None if gzip_ok else body)
        _metadata_cache.put(key, cached)
    if cached is None:  # none in scope (or none left)
        event = _event(
            runtime,
            caller.institution_code,
            caller.client,
            caller.scope.hi_img_indx,
            outcome="refused",
            detail="WADO-RS metadata: 未找到",
        )
        _audit(runtime, event)
        raise DicomwebRefused(404, NOT_FOUND)
    _audit(
        runtime,
        _event(runtime, caller.institution_code, caller.client, hi_img_indx, items=cached.items, detail="WADO-RS metadata"),
    )
    if gzip_ok:
        return cached.gzipped, True
    if cached.plain is None:
        cached = dataclasses.replace(cached, plain=gzip.decompress(cached.gzipped))
        _metadata_cache.put(key, cached)
    assert cached.plain is not None
    return cached.plain, False


def _documents(runtime: Runtime, kept: list[index.MetadataRow]) -> list[str]:
    """The DICOM JSON of each instance: as kept, or built now from its header's bytes (once: it is kept then)."""
    built = {
        row.sop_instance_uid: metadata_document(
            row.header or b"",
            Identity(
                row.study_uid,
                row.series_uid,
                row.sop_instance_uid,
                row.sop_class_uid,
                row.transfer_syntax_uid,
                row.rows is not None,
            ),
        )
        for row in kept
        if row.dicom_json is None
    }
    if built:
        with runtime.database.unit_of_work() as repository:
            index.set_metadata(repository, built)
    return [row.dicom_json if row.dicom_json is not None else built[row.sop_instance_uid] for row in kept]


# --- WADO-RS: frames, bulk data, rendered -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Frames:
    parts: list[bytes]
    transfer_syntax_uid: str


def accepted_transfer_syntax(accept: str | None) -> str | None:
    """The transfer syntax an Accept header asks frames in: None for "as stored" (absent or `*`)."""
    if not accept:
        return None
    found = re.findall(r'transfer-syntax\s*=\s*"?([0-9.*]+)"?', accept)
    if not found or "*" in found:
        return None
    return found[0]


def frames(
    runtime: Runtime,
    caller: Caller,
    study_uid: str,
    series_uid: str,
    sop_instance_uid: str,
    numbers: list[int] | None,
    wanted: str | None,
) -> Frames:
    """Frames (1-based `numbers`; None: all) of an instance, as stored, or decoded to Explicit VR Little Endian when
    `wanted` is that; 406 for any other transfer syntax the instance is not stored in; 404 for a frame it lacks."""
    ref = instances(runtime, caller, study_uid, series_uid, sop_instance_uid, what="WADO-RS frames")[0]
    stored = UID(ref.transfer_syntax_uid)
    native = not stored.is_encapsulated
    if wanted is not None and wanted != stored and not (wanted == ExplicitVRLittleEndian and (native or stored.is_compressed)):
        raise DicomwebRefused(406, f"frames are available as stored ({stored}) or as {ExplicitVRLittleEndian}")
    with open_file(runtime, ref) as file:
        # the header, then only the frames asked for: a multi-frame file is not read whole for one frame
        layout = _scanned_layout(file, stored)
        if layout is None:
            file.seek(0)
            layout = _read_layout(file, stored)
        start, count = layout.start, layout.frames
        chosen = numbers if numbers is not None else list(range(1, count + 1))
        if start is None:
            raise DicomwebRefused(404, "the instance has no pixel data")
        if any(number < 1 or number > count for number in chosen):
            raise DicomwebRefused(404, f"the instance has {count} frame(s)")
        if native and stored != ExplicitVRBigEndian and stored != DeflatedExplicitVRLittleEndian:
            length = layout.frame_length()
            if length <= 0:
                raise DicomwebRefused(404, "the instance's pixel data has no frame geometry")
            parts = []
            for number in chosen:
                file.seek(start + (number - 1) * length)
                parts.append(file.read(length))
            if any(len(part) != length for part in parts):
                raise DicomwebRefused(404, "the instance's pixel data is shorter than its frames")
            return Frames(parts, ExplicitVRLittleEndian)  # native little endian: the same bytes in every such syntax
        if not native and wanted is None:
            parts = []
            for number in chosen:
                file.seek(start)
                parts.append(get_frame(file, number - 1, number_of_frames=count))
            return Frames(parts, stored)
        try:  # decoded (compressed, big endian, deflated) to little endian
            file.seek(0)
            return Frames([pixel_array(file, index=n - 1).tobytes() for n in chosen], ExplicitVRLittleEndian)
        except Exception as error:  # a codec's failure on stored bytes
            log.warning("DICOMweb: frames of a stored instance could not be decoded: %s", type(error).__name__)
            raise DicomwebRefused(406, f"frames cannot be decoded; they are available as stored ({stored})") from None


@dataclass(frozen=True)
class _Layout:
    """Where an instance's pixel data begins in its file (None: it has none), its frames and their geometry."""

    start: int | None
    frames: int
    rows: int
    columns: int
    samples: int
    bits: int

    def frame_length(self) -> int:
        return self.rows * self.columns * self.samples * self.bits // 8


_LAYOUT_TAGS = {0x00280002: "samples", 0x00280008: "frames", 0x00280010: "rows", 0x00280011: "columns", 0x00280100: "bits"}


def _scanned_layout(file: BinaryIO, stored: UID) -> _Layout | None:
    """The layout from mie's own walk of the header's element headers (part10.top_level_elements), without pydicom,
    whose reading of a header costs more than the rest of a frame request; None when the walk cannot tell (a header
    longer than HEADER_PREFIX, big endian, deflated, anything irregular): pydicom reads it then."""
    if not scannable(stored):
        return None
    head = file.read(HEADER_PREFIX)
    try:
        syntax, begin = split_file(head)
        implicit = syntax == ImplicitVRLittleEndian
        elements, position, complete = top_level_elements(head, begin, implicit, frozenset(_LAYOUT_TAGS))
    except Irregular:
        return None
    if syntax != stored or not complete or position + 12 > len(head):
        return None
    found: dict[str, int] = {}
    for tag, _vr, value_begin, value_end, _undefined in elements:
        raw = head[value_begin:value_end]
        if tag == 0x00280008:
            number = integer_string(raw.decode("ascii", "replace"))
            if number is None:
                return None
            found["frames"] = number
        elif len(raw) == 2:
            found[_LAYOUT_TAGS[tag]] = struct.unpack("<H", raw)[0]
        else:
            return None
    if struct.unpack_from("<HH", head, position) != (0x7FE0, 0x0010):
        start = None
    else:
        start = position + (8 if implicit else 12)  # explicit VR: OB or OW, two reserved bytes, a 4-byte length
    return _Layout(
        start,
        found.get("frames") or 1,
        found.get("rows", 0),
        found.get("columns", 0),
        found.get("samples", 1),
        found.get("bits", 0),
    )


def _read_layout(file: BinaryIO, stored: UID) -> _Layout:
    """The layout as pydicom reads the header."""
    header = pydicom.dcmread(file, stop_before_pixels=True)
    start = _pixel_value(file, stored)
    return _Layout(
        start,
        int(header.get("NumberOfFrames", 1) or 1),
        int(header.get("Rows", 0) or 0),
        int(header.get("Columns", 0) or 0),
        int(header.get("SamplesPerPixel", 1) or 1),
        int(header.get("BitsAllocated", 0) or 0),
    )


def _pixel_value(file: BinaryIO, stored: UID) -> int | None:
    """Where the Pixel Data value begins, read from just after the header (where dcmread stopped before it); None
    when the next element is not (7FE0,0010). Deflated and big endian files are not read this way (None is not
    said for them: they are decoded from the start)."""
    if stored == DeflatedExplicitVRLittleEndian or stored == ExplicitVRBigEndian:
        return 0
    head = file.read(8)
    if len(head) < 8 or struct.unpack("<HH", head[:4]) != (0x7FE0, 0x0010):
        return None
    if not stored.is_implicit_VR:
        file.read(4)  # explicit VR: OB or OW, two reserved bytes (in `head`), then a 4-byte length
    return file.tell()


def bulk_data(runtime: Runtime, caller: Caller, study_uid: str, series_uid: str, sop_instance_uid: str, tag: str) -> Frames:
    """A bulk data value of an instance: the pixel data as its frames (as stored), another value whole."""
    if tag.upper() == PIXEL_DATA:
        return frames(runtime, caller, study_uid, series_uid, sop_instance_uid, None, None)
    ref = instances(runtime, caller, study_uid, series_uid, sop_instance_uid, what="WADO-RS bulk data")[0]
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", tag):
        raise DicomwebRefused(404, NOT_FOUND)
    with open_file(runtime, ref) as file:
        dataset = pydicom.dcmread(file, stop_before_pixels=True)
    element = dataset.get(int(tag, 16))
    if element is None or not isinstance(element.value, bytes):
        raise DicomwebRefused(404, NOT_FOUND)
    return Frames([element.value], ExplicitVRLittleEndian)


def rendered(
    runtime: Runtime,
    caller: Caller,
    study_uid: str,
    series_uid: str,
    sop_instance_uid: str,
    frame: int,
    accept: str | None,
    window: str | None,
    viewport: str | None,
    thumbnail: bool = False,
) -> tuple[bytes, str]:
    """One frame rendered (mie.service.render) as PNG, or JPEG when the Accept asks for it and not for PNG;
    `window` is PS3.18's `center,width[,function]`, `viewport` `width,height` (the image is fitted inside)."""
    what = "WADO-RS thumbnail" if thumbnail else "WADO-RS rendered"
    ref = instances(runtime, caller, study_uid, series_uid, sop_instance_uid, what=what)[0]
    chosen = None
    if window:
        parts = window.split(",")
        try:
            chosen = Window(float(parts[0]), float(parts[1]))
        except (ValueError, IndexError):
            raise DicomwebRefused(400, "window is center,width[,function]") from None
    try:
        with open_file(runtime, ref) as file:
            png = render(file, frame - 1, window=chosen).png
    except RenderError as error:
        log.warning("DICOMweb: a stored instance could not be rendered: %s", error)
        raise DicomwebRefused(404, "the instance cannot be rendered (该影像无法显示)") from None
    size = _viewport(viewport) or ((THUMBNAIL, THUMBNAIL) if thumbnail else None)
    jpeg = bool(accept) and "image/jpeg" in accept and "image/png" not in accept  # type: ignore[operator]
    if size is None and not jpeg:
        return png, "image/png"
    image = Image.open(io.BytesIO(png))
    if size is not None:
        image.thumbnail(size)
    out = io.BytesIO()
    if jpeg:
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(out, format="JPEG", quality=90)
        return out.getvalue(), "image/jpeg"
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue(), "image/png"


def _viewport(viewport: str | None) -> tuple[int, int] | None:
    if not viewport:
        return None
    try:
        width, height = (int(part) for part in viewport.split(",")[:2])
    except ValueError:
        raise DicomwebRefused(400, "viewport is width,height") from None
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise DicomwebRefused(400, "viewport is width,height, each 1 to 4096")
    return width, height


# --- WADO-URI ---------------------------------------------------------------------------------------------------------
def wado_uri(runtime: Runtime, caller: Caller, parameters: dict[str, str]) -> tuple[StoredInstanceRef | None, bytes, str]:
    """WADO-URI (PS3.18 §9): the instance as application/dicom (the stored file: its ref), or rendered (JPEG by
    default, as the standard's default, PNG when asked)."""
    if parameters.get("requestType") != "WADO":
        raise DicomwebRefused(400, "requestType must be WADO")
    try:
        study, series, sop = parameters["studyUID"], parameters["seriesUID"], parameters["objectUID"]
    except KeyError:
        raise DicomwebRefused(400, "studyUID, seriesUID and objectUID are required") from None
    content_type = parameters.get("contentType", "image/jpeg").split(",")[0].strip()
    if content_type == "application/dicom":
        return instances(runtime, caller, study, series, sop, what="WADO-URI retrieve")[0], b"", content_type
    if content_type not in ("image/jpeg", "image/png"):
        raise DicomwebRefused(406, "contentType: application/dicom, image/jpeg or image/png")
    frame = int(parameters.get("frameNumber", "1")) if parameters.get("frameNumber", "1").isdigit() else 1
    window = None
    if parameters.get("windowCenter") and parameters.get("windowWidth"):
        window = f"{parameters['windowCenter']},{parameters['windowWidth']}"
    viewport = None
    if parameters.get("columns", "").isdigit() or parameters.get("rows", "").isdigit():
        viewport = f"{parameters.get('columns') or 4096},{parameters.get('rows') or 4096}"
    body, media = rendered(runtime, caller, study, series, sop, frame, content_type, window, viewport)
    return None, body, media


# --- STOW-RS ----------------------------------------------------------------------------------------------------------
STUDY_MISMATCH = 0xA900  # PS3.18 Table 10.5.3-1: not of the study the request names


@dataclass(frozen=True)
class Stored:
    status: int  # 200 all stored, 202 some, 409 none
    body: bytes  # DICOM JSON: ReferencedSOPSequence, FailedSOPSequence


def store(runtime: Runtime, caller: Caller, study_uid: str | None, parts: Sequence[Spooled | None]) -> Stored:
    """STOW-RS: each spooled part (None: a part that was not application/dicom) through the one ingest path, as
    C-STORE is: the study must be registered by §2.3 (saveImgInfo) by the caller's institution. Every spooled
    part not stored is removed from the spool, whatever happens."""
    try:
        return _store(runtime, caller, study_uid, parts)
    finally:
        for spooled in parts:
            if spooled is not None:
                runtime.store.discard(spooled)  # gone already if stored (moved into place)


def _store(runtime: Runtime, caller: Caller, study_uid: str | None, parts: Sequence[Spooled | None]) -> Stored:
    if caller.read_only:
        raise DicomwebRefused(403, "this root is read-only (此链接只读)")
    referenced: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    studies: set[str] = set()
    for spooled in parts:
        if spooled is None:
            failed.append({"00081197": {"vr": "US", "Value": [CANNOT_UNDERSTAND]}})
            continue
        identity: dict[str, Any] = {}
        try:
            read = read_spooled(spooled)
            header = read.header
            identity = {
                "00081150": {"vr": "UI", "Value": [header.sop_class_uid]},
                "00081155": {"vr": "UI", "Value": [header.sop_instance_uid]},
            }
            if study_uid is not None and header.study_uid != study_uid:
                runtime.store.discard(spooled)
                failed.append({**identity, "00081197": {"vr": "US", "Value": [STUDY_MISMATCH]}})
                continue
            ingest_instance(
                runtime.database, runtime.store, spooled, institution=caller.institution_code, source="dicomweb", read=read
            )
        except IngestRefused as refusal:
            runtime.store.discard(spooled)
            log.info("STOW-RS from %s: refused: %s", caller.institution_code, refusal.reason)
            failed.append({**identity, "00081197": {"vr": "US", "Value": [STATUS_OF_REFUSAL[refusal.kind]]}})
            continue
        except OSError as error:
            log.error("STOW-RS from %s: storage failed: %s", caller.institution_code, error)
            failed.append({**identity, "00081197": {"vr": "US", "Value": [OUT_OF_RESOURCES]}})
            continue
        studies.add(header.study_uid)
        url = f"{caller.root}/{instance_path(header.study_uid, header.series_uid, header.sop_instance_uid)}"
        referenced.append({**identity, "00081190": {"vr": "UR", "Value": [url]}})
    answer: dict[str, Any] = {}
    if len(studies) == 1:
        answer["00081190"] = {"vr": "UR", "Value": [f"{caller.root}/studies/{next(iter(studies))}"]}
    if referenced:
        answer["00081199"] = {"vr": "SQ", "Value": referenced}
    if failed:
        answer["00081198"] = {"vr": "SQ", "Value": failed}
    detail = f"STOW-RS: 存储 {len(referenced)}, 拒绝 {len(failed)}"
    _audit(
        runtime,
        AccessEvent(
            Access.dicomweb,
            caller.institution_code,
            caller.client,
            items=len(referenced),
            outcome="ok" if referenced or not failed else "refused",
            detail=detail,
        ),
    )
    status = 200 if not failed else (202 if referenced else 409)
    return Stored(status, json.dumps(answer, separators=(",", ":")).encode())
