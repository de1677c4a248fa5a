"""mie's DICOMweb against Orthanc's (Debian's `orthanc` 1.10 with `orthanc-dicomweb` 1.7) on the same files.

The same corpus (two studies, several modalities and transfer syntaxes, multi-frame, a structured report, a
GB18030 patient name) goes into a fresh Orthanc with its DICOMweb plugin and into a fresh `mie serve` (its
studies registered by §2.1 and §2.3, the files sent by STOW-RS); then the same QIDO-RS searches (studies, series,
instances; default attributes and includefield=all; matching by UID, exact value, wildcard, date range, modality)
and the WADO-RS metadata of every series are asked of both and compared attribute by attribute (tag, VR, value),
and the first and last frame of every instance byte for byte.

Every difference is either fixed in mie or listed in KNOWN_DIFFERENCES with its reason; the test fails on any
difference not listed, and on a listed one that no longer occurs (so the list stays true).

Once per run, on SQLite: the answers compared do not depend on the database (tests/test_dicomweb.py runs the same
routes on both). Without Orthanc or its plugin the test skips, saying why, except in CI (env CI set), where it fails,
as the other tests of real peers do (tests/test_viewer_browser.py, tests/objectstore.py); bin/test installs both.
"""

from __future__ import annotations

import base64
import copy
import itertools
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pydicom
import pydicom.uid
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from tests import orthanc
from tests.conftest import INSTITUTION, KEY, SAVE_EXAM, exam_message, exam_record, free_port, img_info_message
from tests.dicom_files import part10_bytes
from tests.test_crash import add_institution, start_server
from tests.test_dicomweb import multipart_parts

SAVE_IMG_INFO = "/mie/api/mie/saveImgInfo"

# Two studies; every instance of a study carries the same patient and study attributes (a real study does), so that
# a study-level answer has one right value. Study B is written in GB18030, as Chinese modalities often write.
STUDIES: dict[str, dict[str, Any]] = {
    "A": {
        "PatientName": "Zhang^San",
        "PatientID": "DIFF-A-0001",
        "PatientBirthDate": "19780405",
        "PatientSex": "M",
        "StudyDate": "20240315",
        "StudyTime": "093000",
        "AccessionNumber": "ACCA0001",
        "StudyDescription": "Chest and Head",
        "ReferringPhysicianName": "Li^Si",
        "StudyID": "A1",
    },
    "B": {
        "SpecificCharacterSet": "GB18030",
        "PatientName": "Wang^Wu=王^五",
        "PatientID": "DIFF-B-0002",
        "PatientBirthDate": "19550101",
        "PatientSex": "F",
        "StudyDate": "20231102",
        "StudyTime": "151500.25",
        "AccessionNumber": "ACCB0002",
        "StudyDescription": "核医学 and colour",
        "ReferringPhysicianName": "",
        "StudyID": "B2",
    },
}
# (study, pydicom's bundled test file, instances): each file a series of its own in that study
SERIES: list[tuple[str, str, int]] = [
    ("A", "CT_small.dcm", 3),  # CT, explicit VR little endian, three slices
    ("A", "MR_small.dcm", 1),  # MR, explicit VR little endian
    ("A", "MR_small_implicit.dcm", 1),  # implicit VR little endian
    ("A", "MR_small_bigendian.dcm", 1),  # explicit VR big endian (retired, still sent)
    ("A", "MR_small_RLE.dcm", 1),  # RLE lossless
    ("A", "MR_small_jp2klossless.dcm", 1),  # JPEG 2000 lossless
    ("A", "MR_small_jpeg_ls_lossless.dcm", 1),  # JPEG-LS lossless
    ("A", "reportsi.dcm", 1),  # SR: no pixel data, nested sequences
    ("B", "JPEG-lossy.dcm", 1),  # NM, JPEG extended
    ("B", "JPEG2000.dcm", 1),  # NM, JPEG 2000
    ("B", "SC_jpeg_no_color_transform.dcm", 1),  # JPEG baseline
    ("B", "SC_rgb_jpeg_gdcm.dcm", 1),  # JPEG lossless SV1
    ("B", "SC_rgb_rle_2frame.dcm", 1),  # RLE, two frames
    ("B", "rtdose.dcm", 1),  # RT dose, 15 frames, implicit VR
    ("B", "examples_ybr_color.dcm", 1),  # US, 30 frames, JPEG baseline YBR
]


@dataclass
class Study:
    uid: str
    attributes: dict[str, Any]
    instances: list[Dataset]


def corpus() -> dict[str, Study]:
    """The two studies: pydicom's test files with new UIDs, each study's patient and study attributes set. The UIDs
    are the same in every run: a study's representative (its least SOP Instance UID) decides attributes such as
    its Timezone Offset From UTC, so random UIDs made a listed difference come and go."""
    made = itertools.count()

    def generate_uid() -> str:
        return pydicom.uid.generate_uid(entropy_srcs=["mie orthanc differential", str(next(made))])

    studies = {name: Study(generate_uid(), attributes, []) for name, attributes in STUDIES.items()}
    for series_number, (name, file_name, count) in enumerate(SERIES, start=1):
        study = studies[name]
        series_uid = generate_uid()
        for number in range(1, count + 1):
            ds = dataset_named(file_name)
            for keyword, value in study.attributes.items():
                setattr(ds, keyword, value)
            ds.StudyInstanceUID = study.uid
            ds.SeriesInstanceUID = series_uid
            ds.SeriesNumber = series_number
            ds.InstanceNumber = number
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            study.instances.append(ds)
    return studies


def dataset_named(file_name: str) -> Dataset:
    path = pydicom.data.get_testdata_file(file_name)
    assert path is not None, f"pydicom's test file {file_name} is missing"
    ds = pydicom.dcmread(path)
    if 0xFFFCFFFC in ds:  # Data Set Trailing Padding: not content (as tests/dicom_files.py drops it)
        del ds[0xFFFCFFFC]
    if ds.file_meta.TransferSyntaxUID.is_compressed and "PixelData" in ds:
        ds["PixelData"].VR = "OB"  # PS3.5 A.4: encapsulated pixel data is OB
    return ds


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the differential test needs {reason} in CI (bin/test installs it)")
    pytest.skip(f"{reason} is not installed here")


@dataclass
class Peers:
    mie: str  # DICOMweb roots
    orthanc: str
    studies: dict[str, Study]

    def client(self, who: str) -> DICOMwebClient:
        session = requests.Session()
        if who == "mie":
            session.auth = (INSTITUTION, KEY)
        return DICOMwebClient(self.mie if who == "mie" else self.orthanc, session=session)


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    still_missing = orthanc.missing(dicomweb=True)
    if still_missing:
        _unavailable(f"Debian's {' and '.join(still_missing)} (apt-get install orthanc orthanc-dicomweb)")
    workdir = tmp_path_factory.mktemp("orthanc-differential")
    studies = corpus()
    files = [part10_bytes(copy.deepcopy(ds)) for study in studies.values() for ds in study.instances]

    orthanc_port = free_port()
    # UTF-8 as its own encoding, as a Chinese site would set it: with Debian's default (Latin-1) Orthanc's QIDO
    # answers lose every Chinese character (its metadata keeps them)
    config = orthanc.configuration(workdir, orthanc_port, dicomweb=True, DefaultEncoding="Utf8")
    log = workdir / "orthanc.log"
    with log.open("wb") as output:
        peer = subprocess.Popen(orthanc.command(config), cwd=workdir, stdout=output, stderr=subprocess.STDOUT)
    data_dir = workdir / "mie-data"
    database_url = f"sqlite:///{workdir / 'mie.sqlite3'}"
    add_institution(data_dir, database_url, INSTITUTION, KEY)
    mie_port = free_port()
    server = start_server(data_dir, database_url, mie_port, 0)
    try:
        orthanc.wait_until_ready(orthanc_port, peer, log)
        for data in files:
            orthanc.upload(orthanc_port, data)
        mie_url = f"http://127.0.0.1:{mie_port}"
        with httpx.Client(base_url=mie_url, timeout=60) as http:
            for study in studies.values():
                record = exam_record(studyUid=study.uid)
                assert http.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
                info = img_info_message(record, study.attributes["AccessionNumber"], len(study.instances))
                assert http.post(SAVE_IMG_INFO, json=info).json()["code"] == 0
        found = Peers(f"{mie_url}/dicom-web", f"http://127.0.0.1:{orthanc_port}/dicom-web", studies)
        for study in studies.values():
            result = found.client("mie").store_instances(study.instances)
            assert "FailedSOPSequence" not in result, result
        yield found
    finally:
        server.terminate()
        server.wait(timeout=30)
        peer.terminate()
        peer.wait(timeout=30)


# --- what is compared -------------------------------------------------------------------------------------------------
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
# (path below the root, query as sent): {A} and {B} are the studies' UIDs, {A:1} the UID of study A's series number 1.
# The queries are sent as written: Orthanc 1.10 with plugin 1.7 does not decode percent-encoded query values (RFC 3986
# section 2.1), so `*`, `?`, `^` and `,` go unencoded (legal in a URI's query) to both; one query percent-encoded
# shows that (KNOWN_DIFFERENCES).
QUERIES: list[tuple[str, str]] = [
    ("studies", ""),
    ("studies", "includefield=all"),
    ("studies", "PatientName=Zh*ng^S?n"),  # wild cards in a person name
    ("studies", "PatientName=Zhang%5ESan"),  # the same name, percent-encoded (as httpx or requests would send it)
    ("studies", "PatientName=wang*"),  # not the stored name's case
    ("studies", "StudyDate=20240101-20241231"),  # date ranges: closed, open below, open above
    ("studies", "StudyDate=-20231231"),
    ("studies", "StudyDate=20231102-"),
    ("studies", "PatientID=DIFF-B-0002"),
    ("studies", "AccessionNumber=ACCA0001&includefield=00081030,00100020"),
    ("studies", "ModalitiesInStudy=MR"),
    ("studies", "StudyDescription=Chest*"),
    ("studies", "StudyDescription=chest*"),  # wild card matching is case-sensitive but for PN (PS3.4 C.2.2.2.4)
    ("studies", "StudyInstanceUID={A},{B}"),  # a UID list
    ("series", "Modality=MR"),  # series of every study
    ("series", "PatientID=DIFF-A-0001&includefield=all"),
    ("studies/{A}/series", ""),
    ("studies/{A}/series", "includefield=all"),
    ("studies/{B}/series", ""),
    ("studies/{B}/series", "includefield=all"),
    ("studies/{A}/series", "SeriesNumber=3"),
    ("studies/{A}/instances", ""),
    ("studies/{A}/instances", "includefield=all"),
    ("studies/{B}/instances", "includefield=all"),
    ("instances", f"SOPClassUID={MR_IMAGE}"),
    ("studies/{A}/series/{A:1}/instances", ""),  # the CT series of three
    ("studies/{A}/series/{A:1}/instances", "InstanceNumber=2"),
]
MATCH_NOTHING = {"studies?StudyDescription=chest*"}  # (stored: "Chest and Head")
UNIQUE_KEY = {"studies": "0020000D", "series": "0020000E", "instances": "00080018"}
RETRIEVE_URL = "00081190"
PIXEL_DATA = "7FE00010"


@dataclass(frozen=True)
class Difference:
    """One way the answers differ: in which kind of answer (`where`), of which attribute (`tag`: a path of tags through
    sequences, or the query for the matches themselves), and how (`how`). `seen` (the answer and both values) is for
    the failure message only."""

    where: str  # "QIDO studies", "QIDO series", "QIDO instances", "metadata"
    tag: str
    how: str  # "only mie", "only Orthanc", "only mie (empty)", "only Orthanc (empty)", "VR", "value", "matches"
    seen: str = field(default="", compare=False)


# Every difference the two answers still have, and why it stays. The key is (where, tag, how); `where` "QIDO" stands
# for every QIDO level. A difference not listed here fails the test, and so does a listed one that no longer occurs.
EMPTY = (
    "mie returns every attribute its level returns by default, empty when the instance has no value (as a C-FIND "
    "return key is, PS3.4 C.4.1.1.3.2); Orthanc leaves out what its index has no value for. Both are valid answers."
)
UTF8 = "a DICOM JSON answer is UTF-8 whatever Specific Character Set says (PS3.18 F.2), so its value changes nothing"
AVAILABLE_SYNTAX = (
    "mie adds Available Transfer Syntax UID (0008,3002) to the metadata (and so to includefield=all), so that a viewer "
    "knows in which transfer syntax frames come as stored; Orthanc 1.7 does not"
)
LONG_TEXT = (
    "a private UT of 26,974 characters (examples_ybr_color.dcm): mie's metadata has it whole, Orthanc's metadata cuts it "
    "to its first few hundred characters (mie's answer is the file's value, checked against pydicom in "
    "tests/test_dicomweb_index.py)"
)
KNOWN_DIFFERENCES: dict[tuple[str, str, str], str] = {
    # QIDO, every level
    ("QIDO", "00080005", "only Orthanc"): f"Orthanc states its own encoding (ISO_IR 192) in every answer; {UTF8}",
    ("QIDO", "00080056", "only mie"): (
        "Instance Availability: returned by default for studies and instances (PS3.18 Table 10.6.3-3, -5; Orthanc's "
        "code lists it too, but its index has no value for it); mie answers ONLINE, also for series (more attributes "
        "than the table's are allowed)"
    ),
    ("QIDO", "00081030", "only mie"): (
        "Study Description: mie returns it by default at every level (viewers' study lists show it; more attributes "
        "than the table's are allowed); Orthanc returns only the table's"
    ),
    ("QIDO", "00080060", "only mie (empty)"): f"Modality, absent from SC_jpeg_no_color_transform.dcm: {EMPTY}",
    ("QIDO", "0008103E", "only mie (empty)"): f"Series Description, absent from most test files: {EMPTY}",
    ("QIDO instances", "00280008", "only mie (empty)"): f"Number of Frames, absent from single-frame files: {EMPTY}",
    ("QIDO instances", "00280010", "only mie (empty)"): f"Rows, absent from the structured report: {EMPTY}",
    ("QIDO instances", "00280011", "only mie (empty)"): f"Columns, absent from the structured report: {EMPTY}",
    # QIDO, one level
    ("QIDO studies", "00080201", "only mie"): (
        "Timezone Offset From UTC is returned by default for studies (PS3.18 Table 10.6.3-3): mie takes it from the "
        "study's instances; Orthanc 1.10 keeps none at study level (for series and instances the two agree)"
    ),
    ("QIDO instances", "00080005", "value"): (
        f"includefield=all: mie copies the instance's metadata, whose Specific Character Set is the file's (so is "
        f"Orthanc's metadata); Orthanc's QIDO states its own; {UTF8}"
    ),
    ("QIDO instances", "00083002", "only mie"): AVAILABLE_SYNTAX,
    ("QIDO instances", "00191050", "only mie"): (
        f"includefield=all; Orthanc's QIDO returns only its index's attributes, and its metadata cannot vouch for this "
        f"one: {LONG_TEXT}"
    ),
    # QIDO, which studies match
    ("QIDO studies", "studies?PatientName=Zhang%5ESan", "matches only mie"): (
        "Orthanc 1.10 with plugin 1.7 does not decode percent-encoded query values (RFC 3986 section 2.1): the name "
        "with ^ sent as %5E (as Python's HTTP clients send it) matches nothing there; mie decodes it"
    ),
    ("QIDO studies", "studies?PatientName=wang*", "matches only mie"): (
        "person name matching is the implementation's choice (PS3.4 C.2.2.2.4): mie ignores case in person names, as "
        "a clerk types them; Orthanc, with QidoCaseSensitive, does not"
    ),
    # WADO-RS frames (transfer-syntax=*)
    ("frames", "1.2.840.10008.1.2", "transfer syntax"): (
        "an implicit VR little endian instance: the same bytes from both; mie labels them Explicit VR Little Endian, "
        "the one uncompressed transfer syntax PS3.18 names for application/octet-stream (Table 8.7.3-2: raw pixels "
        "carry no VR), Orthanc with the file's syntax"
    ),
    ("frames", "1.2.840.10008.1.2.2", "status"): (
        "a big endian instance (retired syntax, still sent by old modalities): Orthanc 1.7 answers HTTP 500; mie "
        "answers its frames decoded to Explicit VR Little Endian"
    ),
    # WADO-RS metadata
    ("metadata", "00083002", "only mie"): AVAILABLE_SYNTAX,
    ("metadata", "00191050", "value"): LONG_TEXT,
    ("metadata", "7FE00010", "only mie"): (
        "Orthanc 1.7 leaves Pixel Data out of the metadata of instances in an encapsulated (compressed) transfer "
        "syntax; mie gives its BulkDataURI for every instance with pixels, as PS3.18's metadata does for bulk data"
    ),
}


def listed(difference: Difference) -> tuple[str, str, str] | None:
    for where in (difference.where, "QIDO" if difference.where.startswith("QIDO") else difference.where):
        if (where, difference.tag, difference.how) in KNOWN_DIFFERENCES:
            return (where, difference.tag, difference.how)
    return None


def has_value(element: dict[str, Any]) -> bool:
    return any(key in element for key in ("Value", "InlineBinary", "BulkDataURI"))


class Comparer:
    """Compares two DICOM JSON objects attribute by attribute. A value given inline by one side and by BulkDataURI by
    the other is no difference if the bulk data, fetched, is the inline bytes; both by BulkDataURI: no difference
    (their URLs differ by root). Retrieve URLs are compared below each side's root."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers

    def relative(self, value: Any) -> Any:
        if isinstance(value, str):
            for root in (self.peers.mie, self.peers.orthanc):
                if value.startswith(root):
                    return "{root}" + value[len(root) :]
        return value

    def binary(self, who: str, element: dict[str, Any]) -> bytes | None:
        if "InlineBinary" in element:
            return base64.b64decode(element["InlineBinary"])
        if "BulkDataURI" in element:
            auth = (INSTITUTION, KEY) if who == "mie" else None
            accept = 'multipart/related; type="application/octet-stream"'  # Orthanc 1.7 answers bulk data only so
            answer = httpx.get(element["BulkDataURI"], auth=auth, headers={"Accept": accept}, timeout=60)
            assert answer.status_code == 200, (who, element["BulkDataURI"], answer.status_code)
            return b"".join(multipart_parts(answer))
        return None

    def compare(self, mie: dict[str, Any], peer: dict[str, Any], where: str, seen: str, path: str = "") -> list[Difference]:
        found = []
        for tag in sorted(set(mie) | set(peer)):
            name = f"{path}{tag}"
            ours, theirs = mie.get(tag), peer.get(tag)
            if ours is None or theirs is None:
                element = ours if theirs is None else theirs
                side = "only mie" if theirs is None else "only Orthanc"
                how = side if has_value(element) else f"{side} (empty)"
                found.append(Difference(where, name, how, f"{seen}: {element}"[:300]))
                continue
            both = f"{seen}: mie {ours} | Orthanc {theirs}"[:400]
            if ours.get("vr") != theirs.get("vr"):
                found.append(Difference(where, name, "VR", both))
            elif ours.get("vr") == "SQ":
                items, their_items = ours.get("Value", []), theirs.get("Value", [])
                if len(items) != len(their_items):
                    found.append(Difference(where, name, "value", both))
                for number, (item, their_item) in enumerate(zip(items, their_items, strict=False)):
                    found += self.compare(item, their_item, where, f"{seen} item {number + 1}", f"{name}.")
            elif {"InlineBinary", "BulkDataURI"} & (set(ours) | set(theirs)):
                if "BulkDataURI" in ours and "BulkDataURI" in theirs:
                    continue
                if self.binary("mie", ours) != self.binary("orthanc", theirs):
                    found.append(Difference(where, name, "value", both))
            elif [self.relative(v) for v in ours.get("Value", [])] != [self.relative(v) for v in theirs.get("Value", [])]:
                found.append(Difference(where, name, "value", both))
        return found


def ask(peers: Peers, who: str, path: str, query: str) -> list[dict[str, Any]]:
    root = peers.mie if who == "mie" else peers.orthanc
    auth = (INSTITUTION, KEY) if who == "mie" else None
    url = f"{root}/{path}" + (f"?{query}" if query else "")
    answer = httpx.get(url, auth=auth, headers={"Accept": "application/dicom+json"}, timeout=60)
    assert answer.status_code in (200, 204), (who, url, answer.status_code, answer.text[:300])
    return answer.json() if answer.content else []


def filled(peers: Peers, text: str) -> str:
    for name, study in peers.studies.items():
        text = text.replace(f"{{{name}}}", study.uid)
        for ds in study.instances:
            text = text.replace(f"{{{name}:{ds.SeriesNumber}}}", str(ds.SeriesInstanceUID))
    return text


@pytest.fixture(scope="module")
def orthanc_metadata(peers: Peers) -> dict[str, dict[str, Any]]:
    """Orthanc's WADO-RS metadata of every instance, by SOP Instance UID (every series asked once)."""
    found = {}
    for study in peers.studies.values():
        for series_uid in {str(ds.SeriesInstanceUID) for ds in study.instances}:
            for item in peers.client("orthanc").retrieve_series_metadata(study.uid, series_uid):
                found[item["00080018"]["Value"][0]] = item
    return found


def _unexpected(found: list[Difference], scope: str) -> list[str]:
    """What fails the test: the differences not listed, and the listed ones of `scope` that did not occur."""
    first: dict[Difference, Difference] = {}
    for difference in found:
        first.setdefault(difference, difference)  # one line per (where, tag, how), with its first example
    problems = sorted(f"{d.where} | {d.tag} | {d.how} | e.g. {d.seen}" for d in first.values() if listed(d) is None)
    occurred = {listed(d) for d in found}
    gone = [key for key in KNOWN_DIFFERENCES if key[0].startswith(scope) and key not in occurred]
    return problems + [f"listed but not seen (remove it from KNOWN_DIFFERENCES): {key}" for key in gone]


def test_qido_answers_agree(peers: Peers, orthanc_metadata: dict[str, dict[str, Any]]) -> None:
    comparer = Comparer(peers)
    found: list[Difference] = []
    for template, template_query in QUERIES:
        path, query = filled(peers, template), filled(peers, template_query)
        level = path.rsplit("/", 1)[-1]
        where, key = f"QIDO {level}", UNIQUE_KEY[level]
        shown = f"{template}?{template_query}"
        ours = {item[key]["Value"][0]: item for item in ask(peers, "mie", path, query)}
        theirs = {item[key]["Value"][0]: item for item in ask(peers, "orthanc", path, query)}
        assert ours or theirs or shown in MATCH_NOTHING, f"{shown}: nothing matched on either side (it tests nothing)"
        for side, uids in (("only mie", ours.keys() - theirs.keys()), ("only Orthanc", theirs.keys() - ours.keys())):
            if uids:
                found.append(Difference(where, shown, f"matches {side}", f"{len(uids)} of {len(ours)} / {len(theirs)}"))
        for uid in ours.keys() & theirs.keys():
            differences = comparer.compare(ours[uid], theirs[uid], where, shown)
            if "includefield=all" in query:
                # what mie adds for "all" (any attribute it has) is right if Orthanc's metadata of the instance (of an
                # instance of the series, study) has it so
                differences = [d for d in differences if not _in_metadata(comparer, d, ours[uid], level, uid, orthanc_metadata)]
            found += differences
    problems = _unexpected(found, "QIDO")
    assert not problems, "differences not listed in KNOWN_DIFFERENCES:\n" + "\n".join(problems)


def _in_metadata(
    comparer: Comparer, difference: Difference, answer: dict[str, Any], level: str, uid: str, metadata: dict[str, dict[str, Any]]
) -> bool:
    if difference.how not in ("only mie", "only mie (empty)") or "." in difference.tag:
        return False
    key = {"studies": "0020000D", "series": "0020000E", "instances": "00080018"}[level]
    candidates = [item for item in metadata.values() if item[key]["Value"][0] == uid]
    tag = difference.tag
    return any(tag in item and not comparer.compare({tag: answer[tag]}, {tag: item[tag]}, "", "") for item in candidates)


def test_series_metadata_agrees(peers: Peers, orthanc_metadata: dict[str, dict[str, Any]]) -> None:
    comparer = Comparer(peers)
    found: list[Difference] = []
    mie = peers.client("mie")
    for name, study in peers.studies.items():
        files = {str(ds.SOPInstanceUID): ds for ds in study.instances}
        for series_uid in sorted({str(ds.SeriesInstanceUID) for ds in study.instances}):
            ours = {item["00080018"]["Value"][0]: item for item in mie.retrieve_series_metadata(study.uid, series_uid)}
            assert ours.keys() == {uid for uid, ds in files.items() if ds.SeriesInstanceUID == series_uid}
            for uid, item in ours.items():
                seen = f"{name}/{files[uid].SeriesNumber} {SERIES[int(files[uid].SeriesNumber) - 1][1]}"
                found += comparer.compare(item, orthanc_metadata[uid], "metadata", seen)
    problems = _unexpected(found, "metadata")
    assert not problems, "differences not listed in KNOWN_DIFFERENCES:\n" + "\n".join(problems)


def test_frames_agree(peers: Peers) -> None:
    """Frames as OHIF asks for them (transfer-syntax=*): the first and the last frame of every instance with pixels,
    byte for byte, and the transfer syntax each side says they are in."""
    accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    found: list[Difference] = []
    for name, study in peers.studies.items():
        for ds in study.instances:
            if "PixelData" not in ds:
                continue
            seen = f"{name}/{ds.SeriesNumber} {SERIES[int(ds.SeriesNumber) - 1][1]}"
            path = f"studies/{study.uid}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/frames"
            for number in sorted({1, int(ds.get("NumberOfFrames", 1) or 1)}):
                answers = {
                    who: httpx.get(
                        f"{root}/{path}/{number}",
                        auth=(INSTITUTION, KEY) if who == "mie" else None,
                        headers={"Accept": accept},
                        timeout=60,
                    )
                    for who, root in (("mie", peers.mie), ("orthanc", peers.orthanc))
                }
                statuses = {who: answer.status_code for who, answer in answers.items()}
                if set(statuses.values()) != {200}:
                    found.append(Difference("frames", ds.file_meta.TransferSyntaxUID, "status", f"{seen}: {statuses}"))
                    continue
                # Orthanc puts transfer-syntax inside the quoted type parameter, mie beside it: both say it
                syntaxes = {
                    who: re.findall(r"transfer-syntax=([0-9.]+)", answer.headers["content-type"])
                    for who, answer in answers.items()
                }
                if syntaxes["mie"] != syntaxes["orthanc"]:
                    found.append(Difference("frames", ds.file_meta.TransferSyntaxUID, "transfer syntax", f"{seen}: {syntaxes}"))
                if multipart_parts(answers["mie"]) != multipart_parts(answers["orthanc"]):
                    found.append(Difference("frames", ds.file_meta.TransferSyntaxUID, "value", f"{seen} frame {number}"))
    problems = _unexpected(found, "frames")
    assert not problems, "differences not listed in KNOWN_DIFFERENCES:\n" + "\n".join(problems)
