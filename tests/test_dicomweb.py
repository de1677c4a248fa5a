"""DICOMweb against a real `mie serve`, driven by `dicomweb-client` (what scripts and AI pipelines use): QIDO-RS,
WADO-RS (instance, metadata, frames, rendered, bulk data), STOW-RS, WADO-URI, and who may see what (HTTP Basic,
another institution's study, a §2.6 image link's read-only root and its expiry). One server per database."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.encaps import get_frame
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid
from sqlalchemy import select

from mie.service.links import LinkSigner, Page
from mie.store.database import Database
from mie.store.tables import AccessEvent
from tests.conftest import (
    INSTITUTION,
    KEY,
    OTHER_INSTITUTION,
    OTHER_KEY,
    POSTGRES_URL,
    SAVE_EXAM,
    delete_message,
    exam_message,
    exam_record,
    img_info_message,
    own_postgres_schema,
)
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.page_data import ACCESSION, StoredExamData, ct_series, instance_of, store_ct_series, store_exam, store_instance
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, QUERY_INDEX, index_query
from tests.test_cli import free_port
from tests.test_crash import add_institution, start_server

SAVE_IMG_INFO = "/mie/api/mie/saveImgInfo"


@dataclass
class Served:
    url: str
    database_url: str
    data_dir: Path
    exam: StoredExamData
    sent: dict[str, bytes]  # SOP Instance UID -> the Part 10 bytes sent


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`mie serve` with two institutions and a querier; the first has stored an exam with a CT series of three."""
    data_dir = tmp_path_factory.mktemp("dicomweb") / "data"
    with own_postgres_schema("mie_dicomweb") if request.param == "postgresql" else _no_schema() as schema:
        database_url = (
            f"{POSTGRES_URL}?options=-csearch_path%3D{schema}" if schema else f"sqlite:///{data_dir.parent / 'mie.sqlite3'}"
        )
        for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, OTHER_KEY), (QUERIER, QUERIER_KEY)):
            add_institution(data_dir, database_url, code, key)
        port = free_port()
        server = start_server(data_dir, database_url, port, 0)
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=60) as http:
                exam = store_exam(http)
                slices = ct_series(exam.record["studyUid"], 3)
                sent = {}
                for ds in reversed(slices):
                    data = part10_bytes(copy.deepcopy(ds))
                    store_instance(http, exam, data, len(slices))
                    sent[str(ds.SOPInstanceUID)] = data
                exam.sop_uids = [str(ds.SOPInstanceUID) for ds in slices]
                exam.series_uid = str(slices[0].SeriesInstanceUID)
            yield Served(url, database_url, data_dir, exam, sent)
        finally:
            server.terminate()
            server.wait(timeout=30)


class _no_schema:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def client(served: Served, code: str | None = INSTITUTION, key: str = KEY, root: str | None = None) -> DICOMwebClient:
    session = requests.Session()
    if code is not None:
        session.auth = (code, key)
    return DICOMwebClient(root or f"{served.url}/dicom-web", session=session)


def value(dataset: dict[str, Any], tag: str) -> Any:
    found = dataset.get(tag, {}).get("Value")
    return found[0] if found else None


def multipart_parts(response: httpx.Response) -> list[bytes]:
    """The bodies of a multipart/related answer, by their Content-Length."""
    boundary = response.headers["content-type"].split("boundary=")[1].split(";")[0].strip('"').encode()
    parts = []
    for chunk in response.content.split(b"--" + boundary)[1:-1]:
        head, _, body = chunk.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        parts.append(body[:length])
    return parts


def test_qido_matches_with_wildcards_ranges_includefield_and_pages(served: Served) -> None:
    dicomweb = client(served)
    study_uid = served.exam.record["studyUid"]
    sent = pydicom.dcmread(DicomBytesIO(served.sent[served.exam.sop_uids[0]]))
    studies = dicomweb.search_for_studies(
        search_filters={"PatientName": "compressed*", "StudyDate": "20040101-20041231"},
        fields=["Manufacturer"],
        fuzzymatching=True,
    )
    assert [value(study, "0020000D") for study in studies] == [study_uid]
    study = studies[0]
    assert value(study, "00100020") == sent.PatientID
    assert study["00100010"]["Value"] == [{"Alphabetic": str(sent.PatientName)}]
    assert study["00080061"]["Value"] == ["CT"]
    assert value(study, "00201206") == 1 and value(study, "00201208") == 3
    assert value(study, "00080070") == sent.Manufacturer  # includefield, from the stored metadata
    assert value(study, "00081190") == f"{served.url}/dicom-web/studies/{study_uid}"
    assert dicomweb.search_for_studies(search_filters={"StudyDate": "-20031231"}) == []
    assert dicomweb.search_for_studies(search_filters={"PatientName": "Nobody*"}) == []
    assert [value(s, "0020000D") for s in dicomweb.search_for_studies(search_filters={"00100020": sent.PatientID})] == [study_uid]
    # wild cards match case-sensitively, but in person names (PS3.4 C.2.2.2.4)
    pattern = sent.PatientID[:-1] + "*"
    assert [value(s, "0020000D") for s in dicomweb.search_for_studies(search_filters={"PatientID": pattern})] == [study_uid]
    assert dicomweb.search_for_studies(search_filters={"PatientID": pattern.lower()}) == []
    assert pattern.lower() != pattern
    assert [value(s, "0020000D") for s in dicomweb.search_for_studies(search_filters={"PatientName": "COMPRESSED*"})] == [
        study_uid
    ]
    assert [value(s, "0020000D") for s in dicomweb.search_for_studies(search_filters={"ModalitiesInStudy": "MR,CT"})] == [
        study_uid
    ]
    assert dicomweb.search_for_studies(search_filters={"ModalitiesInStudy": "MR"}) == []

    series = dicomweb.search_for_series(study_uid)
    assert [(value(s, "0020000E"), value(s, "00080060"), value(s, "00200011"), value(s, "00201209")) for s in series] == [
        (served.exam.series_uid, "CT", 2, 3)
    ]
    assert value(series[0], "00080201") == sent.TimezoneOffsetFromUTC  # a default attribute taken from the metadata
    instances = dicomweb.search_for_instances(study_uid, served.exam.series_uid, offset=1, limit=2, fields=["all"])
    assert [value(i, "00080018") for i in instances] == served.exam.sop_uids[1:]  # by Instance Number
    assert [value(i, "00200013") for i in instances] == [2, 3]
    assert value(instances[0], "00280010") == sent.Rows and value(instances[0], "00280011") == sent.Columns
    default = dicomweb.search_for_instances(study_uid, served.exam.series_uid, limit=1)[0]
    assert value(default, "00280100") == sent.BitsAllocated and value(default, "00080201") == sent.TimezoneOffsetFromUTC
    assert value(default, "00180050") is None  # not returned by default
    assert value(instances[0], "00180050") is not None  # includefield=all: the instance's own attributes
    assert "7FE00010" not in instances[0]
    assert len(dicomweb.search_for_instances(search_filters={"SOPInstanceUID": ",".join(served.exam.sop_uids[:2])})) == 2


def test_wado_instance_metadata_frames_rendered_and_wado_uri(served: Served) -> None:
    dicomweb = client(served)
    study_uid, series_uid, sop = served.exam.record["studyUid"], served.exam.series_uid, served.exam.sop_uids[0]
    sent = served.sent[sop]
    sent_ds = pydicom.dcmread(DicomBytesIO(sent))

    retrieved = dicomweb.retrieve_instance(study_uid, series_uid, sop)
    assert retrieved.SOPInstanceUID == sop and retrieved.PixelData == sent_ds.PixelData
    answer = httpx.get(
        f"{served.url}/dicom-web/studies/{study_uid}/series/{series_uid}",
        auth=(INSTITUTION, KEY),
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert answer.status_code == 200
    assert sorted(md5(part) for part in multipart_parts(answer)) == sorted(md5(data) for data in served.sent.values())

    metadata = dicomweb.retrieve_series_metadata(study_uid, series_uid)
    assert [value(item, "00080018") for item in metadata] == served.exam.sop_uids
    for item in metadata:
        pixels = item["7FE00010"]
        assert "InlineBinary" not in pixels and "Value" not in pixels
        assert pixels["BulkDataURI"].startswith(f"{served.url}/dicom-web/studies/{study_uid}/series/{series_uid}/instances/")
    assert dicomweb.retrieve_bulkdata(metadata[0]["7FE00010"]["BulkDataURI"]) == [sent_ds.PixelData]
    zipped = httpx.get(
        f"{served.url}/dicom-web/studies/{study_uid}/series/{series_uid}/metadata",
        auth=(INSTITUTION, KEY),
        headers={"Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["content-type"] == "application/dicom+json"
    assert json.loads(zipped.content) == metadata  # httpx undid the gzip

    assert dicomweb.retrieve_instance_frames(study_uid, series_uid, sop, frame_numbers=[1]) == [sent_ds.PixelData]
    frames = httpx.get(
        f"{served.url}/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop}/frames/1",
        auth=(INSTITUTION, KEY),
        headers={"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'},
    )
    assert multipart_parts(frames) == [sent_ds.PixelData]  # as OHIF asks
    assert "transfer-syntax=1.2.840.10008.1.2.1" in frames.headers["content-type"]
    png = dicomweb.retrieve_instance_rendered(study_uid, series_uid, sop, media_types=("image/png",))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    thumbnail = httpx.get(
        f"{served.url}/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop}/thumbnail",
        auth=(INSTITUTION, KEY),
        headers={"Accept": "image/jpeg"},
    )
    assert thumbnail.headers["content-type"] == "image/jpeg" and thumbnail.content.startswith(b"\xff\xd8")

    wado = httpx.get(
        f"{served.url}/wado",
        params={
            "requestType": "WADO",
            "studyUID": study_uid,
            "seriesUID": series_uid,
            "objectUID": sop,
            "contentType": "application/dicom",
        },
        auth=(INSTITUTION, KEY),
    )
    assert wado.status_code == 200 and md5(wado.content) == md5(sent)


def _register(served: Served, institution: str, key: str) -> dict[str, Any]:
    record = exam_record(studyUid=generate_uid())
    with httpx.Client(base_url=served.url, timeout=60) as http:
        assert http.post(SAVE_EXAM, json=exam_message(record, institution=institution, key=key)).json()["code"] == 0
        registered = http.post(SAVE_IMG_INFO, json=img_info_message(record, institution=institution, key=key)).json()
        assert registered["code"] == 0, registered
    return record


def test_stow_stores_into_a_registered_study_and_refuses_an_unregistered_one(served: Served) -> None:
    record = _register(served, OTHER_INSTITUTION, OTHER_KEY)
    accepted = make_instance(record["studyUid"], ACCESSION)
    refused = make_instance(generate_uid(), ACCESSION)  # a study no §2.3 registered
    other = client(served, OTHER_INSTITUTION, OTHER_KEY)
    result = other.store_instances([accepted, refused])
    assert [item.ReferencedSOPInstanceUID for item in result.ReferencedSOPSequence] == [accepted.SOPInstanceUID]
    assert [(item.ReferencedSOPInstanceUID, item.FailureReason) for item in result.FailedSOPSequence] == [
        (refused.SOPInstanceUID, 0xC001)
    ]
    # what it stored, it finds; the other institution's study it does not, nor the first institution this one
    assert [value(s, "0020000D") for s in other.search_for_studies()] == [record["studyUid"]]
    assert record["studyUid"] not in [value(s, "0020000D") for s in client(served).search_for_studies()]
    with pytest.raises(requests.HTTPError) as refusal:  # 409: nothing stored
        client(served).store_instances([make_instance(record["studyUid"], ACCESSION)])  # not the first one's study
    assert refusal.value.response.status_code == 409


def test_frames_of_a_compressed_instance_as_stored_or_decoded_to_explicit_vr_little_endian(served: Served) -> None:
    record = _register(served, INSTITUTION, KEY)
    sent = pydicom.dcmread(DicomBytesIO(instance_of("MR_small_jp2klossless.dcm", record["studyUid"])))
    client(served).store_instances([sent])
    path = f"/dicom-web/studies/{record['studyUid']}/series/{sent.SeriesInstanceUID}/instances/{sent.SOPInstanceUID}/frames/1"
    frames: dict[str, httpx.Response] = {}
    for syntax in ("*", "1.2.840.10008.1.2.1"):
        accept = f'multipart/related; type="application/octet-stream"; transfer-syntax={syntax}'
        frames[syntax] = httpx.get(served.url + path, auth=(INSTITUTION, KEY), headers={"Accept": accept})
    assert multipart_parts(frames["*"]) == [get_frame(sent.PixelData, 0, number_of_frames=1)]
    assert "transfer-syntax=1.2.840.10008.1.2.4.90" in frames["*"].headers["content-type"]
    assert multipart_parts(frames["1.2.840.10008.1.2.1"]) == [sent.pixel_array.tobytes()]
    assert "transfer-syntax=1.2.840.10008.1.2.1" in frames["1.2.840.10008.1.2.1"].headers["content-type"]
    jpeg_ls = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.80'
    assert httpx.get(served.url + path, auth=(INSTITUTION, KEY), headers={"Accept": jpeg_ls}).status_code == 406


def _image_link_token(served: Served) -> str:
    message = index_query(
        psnCertType=served.exam.record["psnCertType"],
        certno=served.exam.record["certno"],
        psnName=None,
        begntime=None,
        endtime=None,
    )
    message["key"] = QUERIER_KEY
    answer = httpx.post(f"{served.url}{QUERY_INDEX}", json=message, timeout=60).json()
    link = next(item["imgInfoLinkUrl"] for item in answer["data"] if item["hiImgIndx"] == served.exam.record["hiImgIndx"])
    return parse_qs(urlsplit(link).query)["t"][0]


def test_who_may_see_what(served: Served) -> None:
    study_uid, series_uid = served.exam.record["studyUid"], served.exam.series_uid
    metadata_path = f"/dicom-web/studies/{study_uid}/series/{series_uid}/metadata"
    anonymous = httpx.get(served.url + "/dicom-web/studies")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(served.url + "/dicom-web/studies", auth=(INSTITUTION, "wrong")).status_code == 401
    foreign = httpx.get(served.url + metadata_path, auth=(OTHER_INSTITUTION, OTHER_KEY))
    assert foreign.status_code == 404 and study_uid not in foreign.text and served.exam.sop_uids[0] not in foreign.text
    assert client(served, OTHER_INSTITUTION, OTHER_KEY).search_for_studies(search_filters={"StudyInstanceUID": study_uid}) == []

    # the querier reaches the study through the §2.6 image link's read-only DICOMweb root, and nothing else
    link = httpx.get(f"{served.url}/dicom-web/link", params={"t": _image_link_token(served)}).json()
    root = link["root"]
    viewer = client(served, None, root=root)
    assert [value(s, "0020000D") for s in viewer.search_for_studies()] == [study_uid]
    metadata = viewer.retrieve_series_metadata(study_uid, series_uid)
    assert metadata[0]["7FE00010"]["BulkDataURI"].startswith(root + "/studies/")
    assert viewer.retrieve_instance_frames(study_uid, series_uid, served.exam.sop_uids[0], frame_numbers=[1])
    others = _register(served, OTHER_INSTITUTION, OTHER_KEY)
    client(served, OTHER_INSTITUTION, OTHER_KEY).store_instances([make_instance(others["studyUid"], ACCESSION)])
    assert httpx.get(f"{root}/studies/{others['studyUid']}/metadata").status_code == 404
    assert (
        httpx.post(f"{root}/studies", content=b"", headers={"Content-Type": "multipart/related; boundary=x"}).status_code == 403
    )
    # the link's own token is no DICOMweb root, and an expired root is refused
    signer = LinkSigner((served.data_dir / "secrets" / "page-links").read_bytes(), 60)
    expired = signer.issue(Page.dicomweb, served.exam.record["hiImgIndx"], QUERIER, now=time.time() - 3600)
    assert httpx.get(f"{served.url}/dicom-web/t/{expired}/studies").status_code == 410
    altered = root.rsplit("/", 1)[1][:-2] + "AA"
    assert httpx.get(f"{served.url}/dicom-web/t/{altered}/studies").status_code == 403

    def audited(events: list[Any]) -> bool:
        return (
            (QUERIER, "ok", "WADO-RS metadata") in events
            and (OTHER_INSTITUTION, "refused", "WADO-RS metadata: 未找到") in events
            and any(code == INSTITUTION and outcome == "refused" for code, outcome, _ in events)  # the wrong key
        )

    # the server commits its journaled events in the background, within moments
    database = Database(served.database_url)
    deadline = time.monotonic() + 30
    try:
        while True:
            with database.engine.connect() as connection:
                events = connection.execute(
                    select(AccessEvent.institution_code, AccessEvent.outcome, AccessEvent.detail).where(
                        AccessEvent.action == "dicomweb"
                    )
                ).all()
            if audited(list(events)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        database.dispose()
    assert audited(list(events)), events


@pytest.mark.parametrize("whole_answer", [0, 8 * 1024 * 1024])
def test_retrieve_streams_a_large_answer_and_sends_a_small_one_whole(
    client: Any, whole_answer: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of answering a retrieve (streamed from the files a MiB at a time, or read whole when the answer is
    at most WHOLE_ANSWER bytes) give the stored files, in series and instance order."""
    from mie.web import dicomweb as web

    monkeypatch.setattr(web, "WHOLE_ANSWER", whole_answer)
    exam = store_exam(client)
    store_ct_series(client, exam, count=2)
    answer = client.get(
        f"/dicom-web/studies/{exam.record['studyUid']}/series/{exam.series_uid}",
        auth=(INSTITUTION, KEY),
        headers={"Accept": 'multipart/related; type="application/dicom"'},
    )
    assert answer.status_code == 200
    parts = multipart_parts(answer)
    assert [str(pydicom.dcmread(DicomBytesIO(part)).SOPInstanceUID) for part in parts] == exam.sop_uids


def test_series_metadata_follows_what_another_process_stores_and_deletes(
    served: Served, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each process keeps the series metadata it built; a second `mie serve` on the same database answers after
    every change made through the first what the series holds then: one more instance, none after a §2.5 delete,
    and, stored again, a set of the same size whose least and greatest UIDs are the same but one instance another."""
    data_dir = tmp_path_factory.mktemp("dicomweb-second") / "data"
    port = free_port()
    second = start_server(data_dir, served.database_url, port, 0, extra=["--secrets-dir", str(served.data_dir / "secrets")])
    try:
        one = httpx.Client(base_url=served.url, timeout=60)
        other = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, auth=(INSTITUTION, KEY))
        exam = store_exam(one, studyUid=generate_uid())  # a study of its own (the example's is the fixture's)
        study_uid = exam.record["studyUid"]
        slices = sorted(ct_series(study_uid, 4), key=lambda ds: str(ds.SOPInstanceUID))
        series_uid = str(slices[0].SeriesInstanceUID)
        path = f"/dicom-web/studies/{study_uid}/series/{series_uid}/metadata"

        def stored(ds: pydicom.Dataset, into: StoredExamData) -> str:
            store_instance(one, into, part10_bytes(copy.deepcopy(ds)), 4)
            return str(ds.SOPInstanceUID)

        def seen(client: httpx.Client, auth: tuple[str, str] | None = None) -> set[str] | int:
            answer = client.get(path, auth=auth) if auth else client.get(path)
            return {value(item, "00080018") for item in answer.json()} if answer.status_code == 200 else answer.status_code

        least, greatest = stored(slices[0], exam), stored(slices[3], exam)
        for _ in range(2):  # the second answer is the one kept
            assert seen(other) == {least, greatest}
            assert seen(one, (INSTITUTION, KEY)) == {least, greatest}
        third = stored(slices[1], exam)
        assert seen(other) == {least, third, greatest}
        deleted = one.post("/mie/api/mie/deleteExamRpotImgIdxInfo", json=delete_message(exam.record["hiImgIndx"])).json()
        assert deleted["code"] == 0, deleted
        assert seen(other) == 404
        again = store_exam(one, studyUid=study_uid)
        instead = [stored(ds, again) for ds in (slices[0], slices[2], slices[3])]
        assert seen(other) == set(instead) and third not in instead
        # the study's metadata too (every series of it)
        study = other.get(f"/dicom-web/studies/{study_uid}/metadata").json()
        assert {value(item, "00080018") for item in study} == set(instead)
    finally:
        second.terminate()
        second.wait(timeout=30)
