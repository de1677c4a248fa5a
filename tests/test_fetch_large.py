"""§2.8 streams: a 512 MiB instance comes back from a real `mie serve` while the server's peak memory grows by
less than 64 MiB, and so does mie.client's (it decodes fileContent as it arrives), and the decoded fileContent is
the stored file (MD5).

The instance is made directly (file and rows), not pushed through an upload: what is measured is the fetch.
Its file is sparse apart from a real DICOM header at the start and a distinct marker every 64 MiB, so it costs
no disk, and a piece sent twice, dropped or out of order changes the MD5. SQLite only: the database holds one
row for this; the stream is the same on PostgreSQL (tests/test_retrieval.py fetches on both).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path
from typing import IO, Any, cast

import httpx
import pytest
from pydicom import Dataset

from generated.models import FileSnDTO, ImgCaheResponse, ResponseCode
from mie.client import MieClient, wire
from mie.config import Settings
from mie.runtime import Runtime
from mie.service import exams, images
from mie.service.ingest import Header, relative_path
from mie.service.institutions import add_institution
from mie.store.database import default_database_url
from tests.conftest import INSTITUTION, KEY, exam_message, img_info_message
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, QUERY_IMAGES, person_record
from tests.test_cli import free_port
from tests.test_crash import start_server

SIZE = 512 * 1024 * 1024
GROWTH_LIMIT = 64 * 1024 * 1024
MARKER_EVERY = 64 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """VmHWM: the process's peak resident set so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def server_processes(pid: int) -> list[int]:
    """`mie serve` and its children (the HTTP workers of `--workers`, default auto)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def peak_rss_of(pids: list[int]) -> dict[int, int]:
    return {pid: peak_rss(pid) for pid in pids}


def store_instance(runtime: Runtime, record: dict[str, object], data: bytes | None, size: int) -> tuple[FileSnDTO, str]:
    """An instance of `record`'s study, file and row: `data` itself, or a sparse `size`-byte file headed by a real
    DICOM header, with markers. Returns its FileSnDTO and MD5."""
    row, file_sn, digest = write_instance(runtime, record, data, size)
    with runtime.database.unit_of_work() as repository:
        repository.add_instance(row)
    return file_sn, digest


def write_instance(
    runtime: Runtime, record: dict[str, object], data: bytes | None, size: int, ds: Dataset | None = None
) -> tuple[dict[str, object], FileSnDTO, str]:
    """store_instance's file, and the row to add for it (several can then go in one transaction); `ds` gives the
    instance's UIDs (a new instance of the study's by default)."""
    ds = ds if ds is not None else make_instance(str(record["studyUid"]))
    header = part10_bytes(ds) if data is None else b""
    target = relative_path(
        Header(ds.SOPInstanceUID, ds.SOPClassUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, "1.2.840.10008.1.2.1", "", "")
    )
    path = runtime.store.path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        if data is not None:
            out.write(data)
        else:
            out.write(header)
            for offset in range(MARKER_EVERY, size, MARKER_EVERY):
                out.seek(offset)
                out.write(hashlib.sha256(str(offset).encode()).digest() * 128)  # 4 KiB, different each time
            out.truncate(size)
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stored:
        while chunk := stored.read(8 * 1024 * 1024):
            digest.update(chunk)
    row = {
        "sop_instance_uid": ds.SOPInstanceUID,
        "hi_img_indx": record["hiImgIndx"],
        "study_uid": ds.StudyInstanceUID,
        "series_uid": ds.SeriesInstanceUID,
        "sop_class_uid": ds.SOPClassUID,
        "transfer_syntax_uid": "1.2.840.10008.1.2.1",
        "size": path.stat().st_size,
        "md5": digest.hexdigest(),
        "path": target.as_posix(),
        "source": "http",
        "institution_code": INSTITUTION,
        "calling_ae": None,
        # what ingest reads for §2.7's order and the image page: as a file without them
        **dict.fromkeys(("series_number", "instance_number", "number_of_frames", "rows"), None),
        "modality": "",
        "series_description": "",
    }
    file_sn = FileSnDTO(exam_uuid=ds.StudyInstanceUID, sn_uuid=ds.SeriesInstanceUID, inst_uuid=ds.SOPInstanceUID)
    return row, file_sn, digest.hexdigest()


class DigestSink(io.RawIOBase):
    """Where the client decodes fileContent to: only its MD5 and length are kept (512 MiB never in memory)."""

    def __init__(self) -> None:
        self.digest, self.length = hashlib.md5(usedforsecurity=False), 0

    def writable(self) -> bool:
        return True

    def write(self, piece: Any) -> int:
        self.digest.update(piece)
        self.length += len(piece)
        return len(piece)


def streamed_fetch(client: MieClient, index: str, file_sn: FileSnDTO) -> tuple[ImgCaheResponse, str, int]:
    """§2.8 through mie.client, decoded as it arrives (the client holds no more than a piece either): the answer
    without fileContent, the MD5 of the decoded content, and its length. A stream cut short fails (its JSON)."""
    sink = DigestSink()
    answer = client.fetch_image(index, file_sn, into=cast(IO[bytes], sink))
    return answer, sink.digest.hexdigest(), sink.length


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc")
def test_a_512_mib_instance_streams_in_bounded_memory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data_dir))
    add_institution(runtime.database, INSTITUTION, KEY)
    add_institution(runtime.database, QUERIER, QUERIER_KEY)
    record = person_record("110101197804050041", psnName="John Doe", examDate="2024-04-04")
    assert exams.save_exam_records(runtime.contract, runtime.database, exam_message(record)).body["code"] == 0
    assert images.save_img_info(runtime.contract, runtime.database, img_info_message(record, total=2)).body["code"] == 0
    small = part10_bytes(make_instance(str(record["studyUid"])))
    small_sn, small_md5 = store_instance(runtime, record, small, len(small))
    large_sn, large_md5 = store_instance(runtime, record, None, SIZE)
    runtime.database.dispose()

    port = free_port()
    server = start_server(data_dir, default_database_url(data_dir), port, 0, workers="auto")  # mie serve's default
    base = f"http://127.0.0.1:{port}"
    try:
        with MieClient(base, QUERIER, QUERIER_KEY, timeout=120) as client:
            index = str(record["hiImgIndx"])
            answer, digest, _ = streamed_fetch(client, index, small_sn)  # warm: the code path loaded, pools filled
            assert answer.code is ResponseCode.success and digest == small_md5 == md5(small)
            processes = server_processes(server.pid)
            before = peak_rss_of(processes)
            Path("/proc/self/clear_refs").write_text("5")  # this process's peak set back to now (Linux >= 4.0)
            client_before = peak_rss(os.getpid())
            answer, digest, length = streamed_fetch(client, index, large_sn)
            after, client_after = peak_rss_of(processes), peak_rss(os.getpid())
            large_fetch = wire(client.messages.fetch_image(index, large_sn))
        # a client that goes away mid-stream: the server lets go of the file, and the audit says how far it got
        with httpx.stream("POST", base + QUERY_IMAGES, json=large_fetch, timeout=120) as cut_short:
            for received, _chunk in enumerate(cut_short.iter_raw()):
                if received == 8:
                    break
        deadline = time.monotonic() + 30
        while len(fetch_events(data_dir)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        open_files = [os.readlink(fd) for pid in processes for fd in Path(f"/proc/{pid}/fd").iterdir()]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert answer.code is ResponseCode.success and answer.data and answer.data.hi_img_indx == record["hiImgIndx"]
    assert (length, digest) == (SIZE, large_md5)
    growth = max(after[pid] - before[pid] for pid in processes)  # the worker that served it, whichever it was
    print(f"server peak RSS grew by {growth / 2**20:.1f} MiB at most in {len(processes)} processes while streaming")
    assert growth < GROWTH_LIMIT, f"peak RSS grew by {growth / 2**20:.1f} MiB while streaming"
    # and mie.client decoded it as it came, holding neither the base64 nor the file
    print(f"client peak RSS {client_before / 2**20:.1f} -> {client_after / 2**20:.1f} MiB")
    assert client_after - client_before < GROWTH_LIMIT, f"the client grew by {(client_after - client_before) / 2**20:.1f} MiB"

    fetched = fetch_events(data_dir)
    assert [e["bytes_sent"] for e in fetched[:2]] == [len(small), SIZE]
    assert 0 < fetched[2]["bytes_sent"] < SIZE and "interrupted" in fetched[2]["detail"]
    assert not [name for name in open_files if name.endswith(".dcm")]


def fetch_events(data_dir: Path) -> list[dict[str, object]]:
    runtime = Runtime.open(Settings(data_dir=data_dir), recover=False)
    try:
        return [e for e in runtime.audit.events() if e["action"] == "fetch-image"]
    finally:
        runtime.database.dispose()
