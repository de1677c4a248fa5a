"""C-STORE in bounded memory: a 600 MiB multi-frame instance sent by dcmtk's storescu to a real `mie serve` raises
the server's peak memory by less than 64 MiB (its data set goes to the spool as it arrives, hashed and its header
read there), on the local store and on an object store (SeaweedFS, tests/objectstore.py), and §2.8 gives back
exactly the file meta mie writes followed by the data set as sent (MD5).

The file is made without holding it: a real header written by pydicom, then the Pixel Data element's header and
its value as a sparse run of zeros with a distinct marker every 64 MiB (a piece dropped, sent twice or out of
order changes the MD5). SQLite only: the database holds one row for this.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
from pathlib import Path

import pytest

from generated.models import FileSnDTO, ResponseCode
from mie.client import MieClient
from mie.config import Settings
from mie.runtime import Runtime
from mie.service import exams, images
from mie.service.institutions import add_institution
from mie.service.part10 import file_meta
from mie.store.database import default_database_url
from tests.conftest import INSTITUTION, KEY, exam_message, img_info_message
from tests.dicom_files import make_instance, write
from tests.objectstore import object_store, seaweedfs  # noqa: F401 (fixtures, for the object-store case)
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, person_record
from tests.test_cli import free_port
from tests.test_crash import start_server
from tests.test_dicom_scp import CALLING_AE, dcmtk, stored_instances
from tests.test_fetch_large import GROWTH_LIMIT, MARKER_EVERY, peak_rss, streamed_fetch

FRAMES, ROWS, COLUMNS = 300, 1024, 1024  # 16-bit: 2 MiB a frame, 600 MiB of pixel data
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"


def large_instance(study_uid: str, directory: Path) -> Path:
    """A multi-frame CT of FRAMES frames, written without its pixel data ever in memory."""
    ds = make_instance(study_uid)
    del ds.PixelData
    ds.NumberOfFrames = FRAMES
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.file_meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    path = write(ds, directory)
    size = FRAMES * ROWS * COLUMNS * 2
    with path.open("r+b") as out:
        out.seek(0, os.SEEK_END)
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, size))  # PS3.5 7.1.2: OW has a 4-byte length
        start = out.tell()
        for offset in range(MARKER_EVERY, size, MARKER_EVERY):
            out.seek(start + offset)
            out.write(hashlib.sha256(str(offset).encode()).digest() * 128)
        out.truncate(start + size)
    return path


def stored_form_md5(path: Path, meta: bytes) -> str:
    """The MD5 of what mie stores for a sent file: its own file meta, then the data set exactly as sent."""
    digest = hashlib.md5(meta, usedforsecurity=False)
    with path.open("rb") as stream:
        head = stream.read(64 * 1024)
        # the data set begins after the file's meta group: 132 bytes, then (0002,0000) UL holds the group's length
        (group_length,) = struct.unpack_from("<I", head, 140)
        stream.seek(144 + group_length)
        while chunk := stream.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def storescu(port: int, *paths: Path) -> None:
    command = [dcmtk("storescu"), "-aet", CALLING_AE, "-aec", "MIE", "127.0.0.1", str(port), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"}, timeout=600)
    assert result.returncode == 0 and not result.stderr, result.stderr


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc")
@pytest.mark.parametrize("storage", ["local", "object store"])
def test_a_600_mib_instance_is_received_in_bounded_memory(tmp_path: Path, storage: str, request: pytest.FixtureRequest) -> None:
    # on the object store: uploaded in parts from the spool, and §2.8 streams it back from the bucket
    extra = ["--object-store", request.getfixturevalue("object_store")] if storage == "object store" else []
    data_dir = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data_dir))
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    add_institution(runtime.database, QUERIER, QUERIER_KEY)
    record = person_record("110101197804050041", psnName="John Doe", examDate="2024-04-04")
    assert exams.save_exam_records(runtime.contract, runtime.database, exam_message(record)).body["code"] == 0
    assert images.save_img_info(runtime.contract, runtime.database, img_info_message(record, total=2)).body["code"] == 0
    runtime.database.dispose()
    small = write(make_instance(str(record["studyUid"])), tmp_path)
    large = large_instance(str(record["studyUid"]), tmp_path)

    http_port, dicom_port = free_port(), free_port()
    server = start_server(data_dir, default_database_url(data_dir), http_port, dicom_port, extra=extra)
    try:
        storescu(dicom_port, small)  # warm: the code path loaded, the first association served
        before = peak_rss(server.pid)
        storescu(dicom_port, large)
        after = peak_rss(server.pid)
        runtime = Runtime.open(Settings(data_dir=data_dir, object_store=extra[1] if extra else None), recover=False)
        [row] = [row for row in stored_instances(runtime).values() if row.size > 2**29]
        runtime.database.dispose()
        with MieClient(f"http://127.0.0.1:{http_port}", QUERIER, QUERIER_KEY, timeout=300) as client:
            file_sn = FileSnDTO(exam_uuid=row.study_uid, sn_uuid=row.series_uid, inst_uuid=row.sop_instance_uid)
            answer, digest, length = streamed_fetch(client, str(record["hiImgIndx"]), file_sn)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"server peak RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB receiving {large.stat().st_size / 2**20:.0f} MiB")
    assert after - before < GROWTH_LIMIT, f"peak RSS grew by {(after - before) / 2**20:.1f} MiB while receiving"
    expected = stored_form_md5(large, file_meta(row.sop_class_uid, row.sop_instance_uid, EXPLICIT_VR_LITTLE_ENDIAN))
    assert answer.code is ResponseCode.success
    assert (length, digest) == (row.size, row.md5) and digest == expected
    assert not list((data_dir / "tmp").iterdir())  # nothing left in the spool
