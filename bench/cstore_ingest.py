"""Benchmark: DICOM C-STORE ingest of 2,000 instances into mie's SCP, beside dcmtk's storescp and Orthanc,
all measured in the same run with the same sender (dcmtk's storescu, TCP_NODELAY=1), plus §2.2 saveImgFile
over HTTP into mie with the same files.

Receivers, each started by this script on 127.0.0.1 (fresh temporary directory and fresh process for every
run, so that every instance is new to it and the stored counts are exact) and stopped by it afterwards:

  mie        `mie serve --http-port P --dicom-port D --ae-title MIE --data-dir DIR --no-access-log
             --log-level warning`, after `mie institution add H11010202321 --key K --ae-title BENCHSCU`; the
             exam (§2.1 example) and its study (saveImgInfo, imageTotalNum 2000) are registered over HTTP
             before the first instance is sent. After the run: rows of `instance` in DIR/mie.sqlite3 and
             files under DIR/dicom, both compared with the corpus's SOP Instance UIDs.
  storescp   dcmtk's `storescp --fork +xa -od OUT` (one process per association, all transfer syntaxes,
             files written as received). After the run: files in OUT.
  orthanc    Orthanc (Debian package) with a generated configuration: its own DICOM and HTTP ports,
             storage and index directories, default synchronous storage, no plugins. After the run:
             CountInstances from its REST API and the files in its storage directory.

Corpora, generated into a temporary directory from pydicom's bundled test files (each instance a new SOP
Instance UID, one fixed Study Instance UID, AccessionNumber 114649960, a few series):

  small   about 10 KB: CT (CT_small.dcm cropped to 64x64), MR (MR_small.dcm), and 1 in 5 compressed
          (RLE, JPEG 2000, JPEG lossless/baseline/extended files as they come, 2-10 KB).
  real    about 0.5 MB: CT and MR enlarged to 512x512 16-bit (512 KB of pixel data), and 1 in 10
          compressed (the same compressed files, as they come: they stay small).

Each (receiver, corpus) is sent over one association (one storescu with the whole corpus) and over four
in parallel (four storescu processes, a quarter each). The wall time runs from the start of the first
storescu to the exit of the last (every instance acknowledged). Then the same files over HTTP, one request
each, by the same client code (httpx, one keep-alive connection per client thread), with one client and with
four concurrent clients, into a fresh receiver each time:

  mie-http      saveImgFile (§2.2): multipart/form-data, the envelope in headers, the form fields and the file
                part `dicom`; every answer must have code 0.
  orthanc-http  Orthanc's REST upload, `POST /instances` with the file as the body; every answer must have
                Status "Success".

Run:  .venv/bin/python bench/cstore_ingest.py     (up to 3 rounds within --budget 600 s; 2 fit at mie's
                                                   present speed: about 8 minutes)
      .venv/bin/python bench/cstore_ingest.py --repeats 1 --instances 400   (quick look, about 1 minute)
      .venv/bin/python bench/cstore_ingest.py --no-scp --instances 500      (the HTTP uploads only, about 3 min)
      .venv/bin/python bench/cstore_ingest.py --receivers mie --repeats 1   (mie's SCP beside both HTTP uploads)

The first round also runs the HTTP uploads (--http-repeats 1); later rounds run C-STORE only. A round is
started only if it would end within the budget, judged by the longest C-STORE part of the rounds before.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
if str(ROOT) not in sys.path:  # appended: a PYTHONPATH naming another checkout's mie keeps its place before this one
    sys.path.append(str(ROOT))
from http_save_exam import code_state, example_body, free_port, load_spec, machine_busy_seconds  # noqa: E402

from tests import orthanc as orthanc_peer  # noqa: E402  (Orthanc's package, install and configuration, shared)

STORESCU_CFG = ROOT / "tests" / "data" / "storescu.cfg"
PROFILE = "MieTest"
DCMTK = Path("/usr/bin")
ORTHANC = orthanc_peer.ORTHANC
INSTITUTION, KEY = "H11010202321", "DFDK045DSF1DSF55DS"
CALLING_AE, CALLED_AE = "BENCHSCU", "MIE"
ACCESSION = "114649960"
SAVE_EXAM = "/mie/api/mie/saveExamRpotImgInfo"
SAVE_IMG_INFO = "/mie/api/mie/saveImgInfo"
SAVE_IMG_FILE = "/mie/api/mie/saveImgFile"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1e6
# Debian's dcmtk (and Orthanc, built on it) leaves Nagle's algorithm on unless TCP_NODELAY=1 is in the
# environment. storescu needs it, and so do the dcmtk receivers: their C-STORE responses otherwise wait
# for storescu's delayed ACK (measured here: storescp at 22 instances/s with it on storescu only, 660 with
# it on both sides). mie's SCP (pynetdicom) does not read it and did not stall either way.
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}

# The compressed files, stored as they come (pixel data left encapsulated): one per transfer syntax.
COMPRESSED = [
    "MR_small_RLE.dcm",  # MR, RLE lossless
    "MR_small_jp2klossless.dcm",  # MR, JPEG 2000 lossless
    "JPEG2000.dcm",  # SC, JPEG 2000
    "SC_rgb_jpeg_gdcm.dcm",  # SC, JPEG lossless SV1
    "JPEG-lossy.dcm",  # SC, JPEG extended
    "SC_jpeg_no_color_transform.dcm",  # SC, JPEG baseline
]


# ---------------------------------------------------------------------------------------------- corpora

_SOP_CLASS = {"1.2.840.10008.5.1.4.1.1.2": "CT", "1.2.840.10008.5.1.4.1.1.4": "MR", "1.2.840.10008.5.1.4.1.1.7": "SC"}


@dataclass
class Corpus:
    name: str
    files: list[Path]
    quarters: list[Path]  # four directories, a quarter of the files each (round robin)
    uids: set[str]
    sizes: dict[Path, int]
    mix: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def _bundled(name: str) -> pydicom.Dataset:
    path = get_testdata_file(name)
    if path is None:
        sys.exit(f"bench: pydicom's bundled test file {name} is missing")
    ds = pydicom.dcmread(path)
    if 0xFFFCFFFC in ds:  # Data Set Trailing Padding: not content, dropped by senders
        del ds[0xFFFCFFFC]
    if ds.file_meta.TransferSyntaxUID.is_compressed and "PixelData" in ds:
        ds["PixelData"].VR = "OB"  # PS3.5 A.4: encapsulated pixel data is OB
    return ds


def _resized(ds: pydicom.Dataset, size: int) -> pydicom.Dataset:
    """An uncompressed 16-bit single-frame image with `size`x`size` pixels (centre cropped, or each pixel
    repeated), from the raw bytes: no decoding, no numpy."""
    assert ds.BitsAllocated == 16 and ds.SamplesPerPixel == 1 and not ds.file_meta.TransferSyntaxUID.is_compressed
    rows, columns = int(ds.Rows), int(ds.Columns)
    raw = bytes(ds.PixelData)
    assert len(raw) >= rows * columns * 2
    lines = [raw[r * columns * 2 : (r + 1) * columns * 2] for r in range(rows)]
    if size <= rows:
        top, left = (rows - size) // 2, (columns - size) // 2
        lines = [line[left * 2 : (left + size) * 2] for line in lines[top : top + size]]
    else:
        factor = -(-size // rows)
        widened = [b"".join(line[c : c + 2] * factor for c in range(0, len(line), 2))[: size * 2] for line in lines]
        lines = [line for line in widened for _ in range(factor)][:size]
    ds.Rows, ds.Columns = size, size
    ds.PixelData = b"".join(lines)
    ds["PixelData"].VR = "OW"
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
        if keyword in ds:
            del ds[keyword]
    return ds


def build_corpus(name: str, directory: Path, count: int, study_uid: str) -> Corpus:
    """`count` Part 10 files in four sub-directories: CT and MR (resized), and some compressed ones."""
    pixels, compressed_every = {"small": (64, 5), "real": (512, 10)}[name]
    templates: dict[str, pydicom.Dataset] = {
        "CT": _resized(_bundled("CT_small.dcm"), pixels),
        "MR": _resized(_bundled("MR_small.dcm"), pixels),
    }
    for file_name in COMPRESSED:
        templates[file_name] = _bundled(file_name)
    series = {kind: generate_uid() for kind in templates}  # one series per kind: 8 series
    quarters = [directory / f"q{n}" for n in range(4)]
    for quarter in quarters:
        quarter.mkdir(parents=True)
    files: list[Path] = []
    uids: set[str] = set()
    sizes: dict[Path, int] = {}
    mix: dict[str, int] = {}
    compressed_cycle = itertools.cycle(COMPRESSED)
    for number in range(count):
        if number % compressed_every == compressed_every - 1:
            kind = next(compressed_cycle)
        else:
            kind = "CT" if number % 2 == 0 else "MR"
        ds = templates[kind]
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series[kind]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.AccessionNumber = ACCESSION
        ds.InstanceNumber = number + 1
        path = quarters[number % 4] / f"{number:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
        uids.add(str(ds.SOPInstanceUID))
        sizes[path] = path.stat().st_size
        label = kind if kind in ("CT", "MR") else f"{_SOP_CLASS[ds.SOPClassUID]} {ds.file_meta.TransferSyntaxUID.name}"
        mix[label] = mix.get(label, 0) + 1
    return Corpus(name, files, quarters, uids, sizes, mix)


# ---------------------------------------------------------------------------------------------- processes


def session_cpu_seconds(leader: int) -> float:
    """utime+stime of every process of the session `leader` leads (zombies included), plus the children
    the leader has already reaped (storescp --fork runs one child per association)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after ")": state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12) cutime(13) cstime(14)
        if int(fields[3]) == leader:
            total += int(fields[11]) + int(fields[12])
            if int(entry) == leader:
                total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


class Process:
    def __init__(self, name: str, command: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.command, self.log, self.cwd, self.env = name, command, log, cwd, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return session_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the process group this script created for it
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, characters: int = 2000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-characters:]


def wait_for_echo(process: Process, port: int, timeout: float = 60.0) -> float:
    """Until a C-ECHO from BENCHSCU to MIE succeeds (the receiver accepts associations)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited at start:\n{process.tail()}")
        echo = subprocess.run(
            [str(DCMTK / "echoscu"), "-to", "2", "-aet", CALLING_AE, "-aec", CALLED_AE, "127.0.0.1", str(port)],
            capture_output=True,
        )
        if echo.returncode == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer C-ECHO on {port} within {timeout}s:\n{process.tail()}")


def wait_for_port(process: Process, port: int, timeout: float = 60.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited at start:\n{process.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not listen on {port} within {timeout}s:\n{process.tail()}")


def http_json(port: int, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


_msgids = itertools.count(1)


def new_msgid() -> str:
    """H11010202321 + yyyyMMddHHmmss + 4 digits, never the same twice in a run."""
    number = next(_msgids)
    moment = datetime(2025, 11, 11, 10, 10) + timedelta(seconds=number // 10000)
    return f"{INSTITUTION}{moment:%Y%m%d%H%M%S}{number % 10000:04d}"


# ---------------------------------------------------------------------------------------------- receivers


@dataclass
class Stored:
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)


class Receiver:
    name = ""

    def __init__(self, workdir: Path, code: Path = ROOT) -> None:
        self.workdir = workdir
        self.code = code  # the tree whose mie runs (--baseline: an earlier commit's, by PYTHONPATH)
        self.dicom_port = free_port()
        self.process: Process | None = None

    def start(self, ctx: RunContext) -> None:
        raise NotImplementedError

    def before_stop(self) -> None:
        """What must be asked of the receiver while it still runs."""

    def verify(self, corpus: Corpus) -> Stored:
        raise NotImplementedError

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class MieReceiver(Receiver):
    name = "mie"

    extra: list[str] = []

    def start(self, ctx: RunContext) -> None:
        self.data = self.workdir / "mie-data"
        self.http_port = free_port()
        mie = shutil.which("mie") or str(Path(sys.executable).with_name("mie"))
        env = {**os.environ, "PYTHONPATH": str(self.code)}
        subprocess.run(
            [mie, "institution", "add", INSTITUTION, "--key", KEY, "--ae-title", CALLING_AE, "--data-dir", str(self.data)],
            check=True, cwd=self.code, stdout=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        command = [
            mie, "serve", "--http-port", str(self.http_port), "--dicom-port", str(self.dicom_port),
            "--ae-title", CALLED_AE, "--data-dir", str(self.data), "--no-access-log", "--log-level", "warning",
            *self.extra,
        ]  # fmt: skip
        self.process = Process("mie", command, self.workdir / "mie.log", self.code, env=env)
        self.process.start()
        wait_for_echo(self.process, self.dicom_port)
        wait_for_port(self.process, self.http_port)  # the SCP starts before uvicorn listens
        register(self.http_port, ctx)

    def stored_files(self) -> int:
        return len([p for p in (self.data / "dicom").rglob("*") if p.is_file()] if (self.data / "dicom").exists() else [])

    def verify(self, corpus: Corpus) -> Stored:
        connection = sqlite3.connect(self.data / "mie.sqlite3")
        try:
            rows = [row[0] for row in connection.execute("SELECT sop_instance_uid FROM instance")]
        finally:
            connection.close()
        files = range(self.stored_files())
        stored = Stored({"rows": len(rows), "files": len(files)})
        if set(rows) != corpus.uids:
            stored.problems.append(
                f"instance rows vs corpus: {len(corpus.uids - set(rows))} missing, {len(set(rows) - corpus.uids)} unknown"
            )
        if len(rows) != len(set(rows)):
            stored.problems.append("duplicate instance rows")
        if len(files) != len(rows):
            stored.problems.append(f"{len(files)} stored files for {len(rows)} rows")
        log = (self.workdir / "mie.log").read_text(encoding="utf-8", errors="replace").splitlines()
        warnings = [line for line in log if any(level in line for level in ("WARNING", "ERROR", "CRITICAL", "Traceback"))]
        if warnings:
            stored.problems.append(f"{len(warnings)} log line(s) at WARNING or above; first: {warnings[0][:300]}")
        return stored


def register(http_port: int, ctx: RunContext) -> None:
    """The exam (§2.1 example) and its study (saveImgInfo) for the corpus, both answered with code 0."""
    exam = example_body(ctx.spec)
    exam["infCode"], exam["key"], exam["msgid"] = INSTITUTION, KEY, new_msgid()
    status, answer = http_json(http_port, SAVE_EXAM, exam)
    if not (isinstance(answer, dict) and answer.get("code") == 0 and answer["data"][0]["succFlag"] == "1"):
        raise RuntimeError(f"saveExamRpotImgInfo answered HTTP {status}: {answer}")
    info = {
        "infno": "saveImgInfo",
        "msgid": new_msgid(),
        "infTime": "2025-11-11 10:10:00",
        "infCode": INSTITUTION,
        "key": KEY,
        "input": [
            {
                "hiImgIndx": ctx.hi_img_indx,
                "studyUid": ctx.study_uid,
                "accessionNumber": ACCESSION,
                "imageTotalNum": ctx.instances,
            }
        ],
    }
    status, answer = http_json(http_port, SAVE_IMG_INFO, info)
    if not (isinstance(answer, dict) and answer.get("code") == 0 and answer["data"][0]["succFlag"] == "1"):
        raise RuntimeError(f"saveImgInfo answered HTTP {status}: {answer}")


class StorescpReceiver(Receiver):
    name = "storescp"

    def start(self, ctx: RunContext) -> None:
        self.out = self.workdir / "storescp-out"
        self.out.mkdir()
        # --fork: one process per association (without it storescp serves associations one after another)
        command = [str(DCMTK / "storescp"), "--fork", "+xa", "-aet", CALLED_AE, "-od", str(self.out), str(self.dicom_port)]
        self.process = Process("storescp", command, self.workdir / "storescp.log", self.workdir, env=DCMTK_ENV)
        self.process.start()
        wait_for_echo(self.process, self.dicom_port)

    def verify(self, corpus: Corpus) -> Stored:
        files = [p for p in self.out.iterdir() if p.is_file()]
        stored = Stored({"files": len(files)})
        if len(files) != len(corpus.files):
            stored.problems.append(f"{len(files)} files for {len(corpus.files)} sent")
        return stored


class OrthancReceiver(Receiver):
    name = "orthanc"

    def start(self, ctx: RunContext) -> None:
        self.http_port = free_port()
        self.storage = self.workdir / "orthanc-storage"  # where orthanc_peer.configuration puts it
        path = orthanc_peer.configuration(
            self.workdir,
            self.http_port,
            self.dicom_port,
            Name="mie-bench",
            DicomAet="ORTHANC",
            DicomCheckCalledAet=False,  # storescu calls it MIE, like the others
            DicomAlwaysAllowEcho=True,
            DicomAlwaysAllowStore=True,  # any calling AE title may store
            DicomCheckModalityHost=False,
            DicomModalities={},
            AcceptedTransferSyntaxes=["1.2.840.10008.1.*"],
            UnknownSopClassAccepted=False,
            SyncStorageArea=True,  # the default: fsync'ed storage
        )
        self.process = Process("orthanc", [str(ORTHANC), str(path)], self.workdir / "orthanc.log", self.workdir, env=DCMTK_ENV)
        self.process.start()
        wait_for_echo(self.process, self.dicom_port)

    def before_stop(self) -> None:
        self.statistics = http_json(self.http_port, "/statistics")

    def verify(self, corpus: Corpus) -> Stored:
        status, statistics_ = self.statistics
        count = statistics_.get("CountInstances", -1) if isinstance(statistics_, dict) else -1
        files = [p for p in self.storage.rglob("*") if p.is_file()]
        stored = Stored({"instances": count, "files": len(files)})
        if count != len(corpus.files):
            stored.problems.append(f"Orthanc counts {count} instances for {len(corpus.files)} sent (HTTP {status})")
        if len(files) != len(corpus.files):
            stored.problems.append(f"{len(files)} files in Orthanc's storage for {len(corpus.files)} sent")
        return stored


_seaweedfs: Any = None
BUCKET = "mie-bench"


class MieS3Receiver(MieReceiver):
    """mie with `--object-store s3://mie-bench/PREFIX`, a new prefix per run, on SeaweedFS started once by this script
    (tests/objectstore.py: `weed server` and `weed s3` on loopback; their CPU counts as "other")."""

    name = "mie-s3"

    def start(self, ctx: RunContext) -> None:
        global _seaweedfs
        if _seaweedfs is None:
            sys.path.insert(0, str(ROOT))
            from tests.objectstore import SeaweedFS

            _seaweedfs = SeaweedFS(Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=self.workdir.parent)))
            atexit.register(_seaweedfs.stop)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # atexit runs on SIGTERM too
            _seaweedfs.start()
            os.environ.update(_seaweedfs.environment)  # for every mie started from here on
            _seaweedfs.client().create_bucket(Bucket=BUCKET)
        # one bucket, a prefix per run: SeaweedFS gives every bucket (collection) volumes of its own; with a
        # bucket per run, every put of the ninth and tenth runs of one bench was refused
        self.prefix = f"run-{uuid.uuid4().hex[:16]}"
        self.extra = ["--object-store", f"s3://{BUCKET}/{self.prefix}"]
        super().start(ctx)

    def stored_files(self) -> int:
        return len([key for key in _seaweedfs.objects(BUCKET) if key.startswith(f"{self.prefix}/dicom/")])


def store_cpu_seconds() -> float:
    """utime+stime of SeaweedFS's processes (`weed server`, `weed s3`) if this script started them, else 0."""
    if _seaweedfs is None:
        return 0.0
    total = 0
    for process in (_seaweedfs._storage, _seaweedfs._gateway):
        if process is None:
            continue
        with open(f"/proc/{process.pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


RECEIVERS: dict[str, type[Receiver]] = {
    "mie": MieReceiver,
    "mie-s3": MieS3Receiver,
    "storescp": StorescpReceiver,
    "orthanc": OrthancReceiver,
}


# ---------------------------------------------------------------------------------------------- runs


@dataclass
class RunContext:
    spec: dict[str, Any]
    study_uid: str
    hi_img_indx: str
    instances: int
    storescu_cfg: Path


@dataclass
class Run:
    kind: str  # "cstore" or "http"
    receiver: str
    corpus: str
    parallel: int  # associations, or HTTP clients
    seconds: float
    instances: int
    size: int
    receiver_cpu: float
    sender_cpu: float
    other_cpu: float
    stored: dict[str, int]
    problems: list[str]
    store_cpu: float = 0.0  # SeaweedFS's processes (mie-s3), part of other_cpu

    @property
    def per_second(self) -> float:
        return self.instances / self.seconds

    @property
    def mb_per_second(self) -> float:
        return self.size / MB / self.seconds


def send_with_storescu(ctx: RunContext, port: int, directories: list[list[Path]], logdir: Path) -> tuple[float, float, list[str]]:
    """One storescu per entry of `directories`, all started together. Wall seconds from the first start to
    the last exit, their CPU seconds, and what went wrong."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes = []
    logs = []
    started = time.perf_counter()
    for number, dirs in enumerate(directories):
        command = [
            str(DCMTK / "storescu"), "-aet", CALLING_AE, "-aec", CALLED_AE, "-xf", str(ctx.storescu_cfg), PROFILE,
            "+sd", "127.0.0.1", str(port), *map(str, dirs),
        ]  # fmt: skip
        log = logdir / f"storescu-{number}.log"
        logs.append(log)
        with log.open("wb") as handle:
            processes.append(subprocess.Popen(command, env=DCMTK_ENV, stdout=handle, stderr=subprocess.STDOUT))
    codes = [process.wait() for process in processes]
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    problems = []
    for code, log in zip(codes, logs, strict=True):
        text = log.read_text(encoding="utf-8", errors="replace").strip()
        if code != 0 or text:
            problems.append(f"{log.name}: exit {code}; {text[:400]}")
    return seconds, cpu, problems


def settle_disk(base: Path) -> None:
    """Flush what the run wrote (up to 1 GB) before the next run starts, so that the kernel's write-back of
    one receiver's files does not slow the next receiver down (outside the timed part).

    Then wait until creating a file is cheap again. After a run's files are deleted, creating a file costs
    1-1.5 ms of kernel CPU instead of about 0.05 ms for a while (seen on these machines' ext4, mounted with
    `discard`), and every receiver creates one file per instance: without the wait, whichever receiver
    runs next pays for the deletion before it. At most 20 s (the slow spells can last minutes: the run then
    goes on, with a warning); a probe file is created, fsynced and removed until five in a row cost under
    0.3 ms of CPU each."""
    os.sync()
    deadline = time.monotonic() + 20
    quick = 0
    while quick < 5 and time.monotonic() < deadline:
        probe = base / f"settle-{os.getpid()}-{time.monotonic_ns()}"
        started = time.process_time()
        with probe.open("xb") as handle:
            handle.write(b"x")
            os.fsync(handle.fileno())
        cost = time.process_time() - started
        probe.unlink()
        quick = quick + 1 if cost < 0.0003 else 0
        time.sleep(0.05)
    if quick < 5:
        print("bench: WARNING: creating files on this disk is still slow after 20 s; the next run pays for it")


BASELINE: Path | None = None
"""--baseline: the tree run by the receivers named NAME@base (PYTHONPATH), alternating with this one's in each round."""


def cstore_run(ctx: RunContext, receiver_name: str, corpus: Corpus, associations: int, base: Path) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix=f"{receiver_name.replace('@', '-')}-", dir=base))
    kind, _, side = receiver_name.partition("@")
    if side and BASELINE is None:
        sys.exit(f"bench: {receiver_name} needs --baseline DIR")
    receiver = RECEIVERS[kind](workdir, BASELINE if side and BASELINE else ROOT)
    try:
        receiver.start(ctx)
        assert receiver.process is not None
        time.sleep(0.3)  # let the start-up settle
        cpu_before = receiver.process.cpu_seconds()
        store_before = store_cpu_seconds()
        busy_before = machine_busy_seconds()
        if associations == 1:
            groups = [corpus.quarters]
        else:
            groups = [[quarter] for quarter in corpus.quarters]
        seconds, sender_cpu, problems = send_with_storescu(ctx, receiver.dicom_port, groups, workdir)
        busy_after = machine_busy_seconds()
        store_cpu = store_cpu_seconds() - store_before
        receiver_cpu = receiver.process.cpu_seconds() - cpu_before
        receiver.before_stop()
    finally:
        receiver.stop()
    try:
        stored = receiver.verify(corpus)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        settle_disk(base)
    return Run(
        "cstore", receiver_name, corpus.name, associations, seconds, len(corpus.files), corpus.total_bytes,
        receiver_cpu, sender_cpu, max(0.0, busy_after - busy_before - receiver_cpu - sender_cpu),
        stored.counts, problems + stored.problems, store_cpu if kind == "mie-s3" else 0.0,
    )  # fmt: skip


HTTP_TARGETS = ("mie", "orthanc")
"""Who receives the files over HTTP: mie by saveImgFile (§2.2, multipart with the envelope in headers), Orthanc by its
REST upload (`POST /instances`, the file as the body)."""


def http_run(
    ctx: RunContext, corpus: Corpus, clients: int, base: Path, payloads: list[tuple[bytes, str]], target: str = "mie"
) -> Run:
    """Every file of the corpus uploaded over HTTP, `clients` concurrent clients (a quarter each if 4), by the same
    client code (httpx, one keep-alive connection per client): to mie by saveImgFile (§2.2), or to Orthanc by
    `POST /instances`."""
    import httpx

    workdir = Path(tempfile.mkdtemp(prefix=f"{target}-http-", dir=base))
    receiver: MieReceiver | OrthancReceiver = MieReceiver(workdir) if target == "mie" else OrthancReceiver(workdir)
    problems: list[str] = []
    lock = threading.Lock()
    failures: list[str] = []

    def mie_upload(http: httpx.Client, data: bytes, digest: str) -> str | None:
        """None if stored, else what went wrong."""
        with lock:
            msgid = new_msgid()
        headers = {"infno": "saveImgFile", "msgid": msgid, "infTime": "2025-11-11 10:10:00",
                   "infCode": INSTITUTION, "key": KEY}  # fmt: skip
        form = {
            "hiImgIdx": ctx.hi_img_indx,
            "studyUid": ctx.study_uid,
            "accessionNumber": ACCESSION,
            "fileMd5": digest,
            "imageTotalNum": str(ctx.instances),
        }
        answer = http.post(SAVE_IMG_FILE, headers=headers, data=form, files={"dicom": ("image.dcm", data, "application/dicom")})
        try:
            ok = answer.json().get("code") == 0
        except ValueError:
            ok = False
        return None if ok else f"HTTP {answer.status_code} {answer.text[:300]}"

    def orthanc_upload(http: httpx.Client, data: bytes, _digest: str) -> str | None:
        answer = http.post("/instances", content=data, headers={"Content-Type": "application/dicom"})
        try:
            ok = answer.status_code == 200 and answer.json().get("Status") == "Success"
        except ValueError:
            ok = False
        return None if ok else f"HTTP {answer.status_code} {answer.text[:300]}"

    upload = mie_upload if target == "mie" else orthanc_upload

    def client(share: list[tuple[bytes, str]]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{receiver.http_port}", timeout=60) as http:
            for data, digest in share:
                try:
                    failure = upload(http, data, digest)
                except httpx.HTTPError as error:
                    failure = f"{type(error).__name__}: {error}"
                if failure is not None:
                    with lock:
                        failures.append(failure)

    try:
        receiver.start(ctx)
        assert receiver.process is not None
        if target == "orthanc":
            wait_for_port(receiver.process, receiver.http_port)
        time.sleep(0.3)
        shares = [payloads[n::clients] for n in range(clients)]
        cpu_before = receiver.process.cpu_seconds()
        busy_before = machine_busy_seconds()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        busy_after = machine_busy_seconds()
        receiver_cpu = receiver.process.cpu_seconds() - cpu_before
        receiver.before_stop()
    finally:
        receiver.stop()
    try:
        stored = receiver.verify(corpus)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        settle_disk(base)
    client_cpu = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
    if failures:
        problems.append(f"{len(failures)} answers not stored; first: {failures[0]}")
    return Run(
        "http", target, corpus.name, clients, seconds, len(payloads), sum(len(d) for d, _ in payloads),
        receiver_cpu, client_cpu, max(0.0, busy_after - busy_before - receiver_cpu - client_cpu),
        stored.counts, problems + stored.problems,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------- report


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


def report(runs: list[Run], corpora: dict[str, Corpus]) -> None:
    groups: dict[tuple[str, str, str, int], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.kind, run.corpus, run.receiver, run.parallel), []).append(run)

    def row(key: tuple[str, str, str, int], label: str) -> None:
        group = groups[key]
        per_instance = statistics.median(r.receiver_cpu / r.instances * 1000 for r in group)
        stored = "/".join(str(v) for v in group[-1].stored.values())
        each = " ".join(f"{r.per_second:,.0f}" for r in group)
        print(f"{key[1]:<6} {label:<12} {key[3]:>5} {median(group, 'per_second'):>9,.0f} {median(group, 'mb_per_second'):>7.1f} "
              f"{median(group, 'seconds'):>7.2f} {len(group):>4}  {each:<20} "
              f"{statistics.median(r.receiver_cpu / r.seconds for r in group):>7.0%} {per_instance:>8.2f} ms "
              f"{statistics.median(r.sender_cpu / r.seconds for r in group):>7.0%} "
              f"{statistics.median(r.other_cpu / r.seconds for r in group):>7.0%}  {stored}")  # fmt: skip

    print()
    print("C-STORE (storescu, TCP_NODELAY=1) and saveImgFile over HTTP; medians over the runs listed:")
    print(f"{'corpus':<6} {'receiver':<12} {'assoc':>5} {'inst/s':>9} {'MB/s':>7} {'wall s':>7} {'runs':>4}  "
          f"{'inst/s of each run':<20} {'rcv CPU':>7} {'rcv CPU/inst':>11} {'snd CPU':>7} {'other':>7}  stored")  # fmt: skip
    names = list(dict.fromkeys(run.receiver for run in runs if run.kind == "cstore"))  # NAME@base beside NAME
    for corpus in corpora:
        for receiver in sorted(names, key=lambda name: list(RECEIVERS).index(name.partition("@")[0])):
            for parallel in (1, 4):
                if ("cstore", corpus, receiver, parallel) in groups:
                    row(("cstore", corpus, receiver, parallel), receiver)
        for target in HTTP_TARGETS:
            for parallel in (1, 4):
                if ("http", corpus, target, parallel) in groups:
                    row(("http", corpus, target, parallel), f"{target}-http")
    print("  assoc: storescu associations (for *-http: concurrent HTTP clients); MB = 10^6 bytes of Part 10 files;")
    print("  mie-http: saveImgFile (§2.2, multipart); orthanc-http: Orthanc's REST upload (POST /instances, raw body);")
    print("  rcv CPU: receiver processes' CPU / wall time (200% = both cores); snd CPU: the storescu processes (for")
    print("  *-http: this script's client threads); other: every other process meanwhile; stored: mie rows/files,")
    print("  storescp files, Orthanc CountInstances/files")
    for key, group in groups.items():
        if any(r.store_cpu for r in group):
            store = statistics.median(r.store_cpu / r.instances * 1000 for r in group)
            share = statistics.median(r.store_cpu / r.seconds for r in group)
            print(f"  {key[1]} {key[2]} x{key[3]}: SeaweedFS's processes (part of other) {share:.0%} of one core, "
                  f"{store:.2f} ms CPU per instance")  # fmt: skip

    print()
    print("ratios (instances/s, medians):")

    def rate(kind: str, corpus: str, receiver: str, parallel: int) -> float | None:
        group = groups.get((kind, corpus, receiver, parallel))
        return median(group, "per_second") if group else None

    for corpus in corpora:
        for parallel in (1, 4):
            mie = rate("cstore", corpus, "mie", parallel)
            mie_http, orthanc_http = rate("http", corpus, "mie", parallel), rate("http", corpus, "orthanc", parallel)
            parts = []
            for base in ("storescp", "orthanc"):
                other = rate("cstore", corpus, base, parallel)
                if mie and other:
                    parts.append(f"mie / {base} x{mie / other:.2f}")
            if mie_http and orthanc_http:
                parts.append(f"mie-http / orthanc-http x{mie_http / orthanc_http:.2f}")
            if mie_http and mie:
                parts.append(f"mie-http / mie C-STORE x{mie_http / mie:.2f}")
            if parts:
                print(f"  {corpus:<6} {parallel} assoc/clients: " + ", ".join(parts))
        for side in ("", "@base"):
            for parallel in (1, 4):
                local = rate("cstore", corpus, f"mie{side}", parallel) or rate("cstore", corpus, "mie", parallel)
                s3 = rate("cstore", corpus, f"mie-s3{side}", parallel)
                if local and s3:
                    print(f"goal, {corpus} corpus, {parallel} assoc: C-STORE into S3 at least 0.8 of the local store: "
                          f"{'met' if s3 >= 0.8 * local else 'NOT met'} (mie-s3{side} / mie x{s3 / local:.2f})")  # fmt: skip
        for parallel in (1, 4):
            this, before = rate("cstore", corpus, "mie-s3", parallel), rate("cstore", corpus, "mie-s3@base", parallel)
            if this and before:
                print(f"  {corpus:<6} {parallel} assoc: mie-s3 / mie-s3@base x{this / before:.2f}")
        one, four = rate("cstore", corpus, "mie", 1), rate("cstore", corpus, "mie", 4)
        if one and four:
            print(f"  {corpus:<6} mie 4 assoc / 1 assoc: x{four / one:.2f}")
    for corpus in corpora:
        mie, orthanc = rate("cstore", corpus, "mie", 4), rate("cstore", corpus, "orthanc", 4)
        if mie and orthanc:
            print(f"goal, {corpus} corpus: mie at least as fast as Orthanc with 4 associations: "
                  f"{'met' if mie >= orthanc else 'NOT met'} (x{mie / orthanc:.2f})")  # fmt: skip
        for parallel in (1, 4):
            mie_http, orthanc_http = rate("http", corpus, "mie", parallel), rate("http", corpus, "orthanc", parallel)
            scp = rate("cstore", corpus, "mie", parallel)
            if mie_http and orthanc_http:
                print(f"goal, {corpus} corpus, {parallel} client(s): saveImgFile at least Orthanc's REST upload: "
                      f"{'met' if mie_http >= orthanc_http else 'NOT met'} (x{mie_http / orthanc_http:.2f})")  # fmt: skip
            if mie_http and scp:
                print(f"goal, {corpus} corpus, {parallel} client(s)/assoc: saveImgFile at least half of mie's SCP: "
                      f"{'met' if mie_http >= scp / 2 else 'NOT met'} (x{mie_http / scp:.2f})")  # fmt: skip

    problems = [(run, p) for run in runs for p in run.problems]
    print()
    if problems:
        print(f"problems ({len(problems)}):")
        for run, problem in problems[:20]:
            print(f"  {run.kind} {run.receiver} {run.corpus} x{run.parallel}: {problem}")
    else:
        print("checks: every run stored every instance (mie: instance rows = files = the corpus's SOP Instance UIDs; "
              "storescp: files; Orthanc: CountInstances and files); every HTTP answer said stored; no storescu "
              "output; no mie log line at WARNING or above")  # fmt: skip


# ---------------------------------------------------------------------------------------------- main


def check_tools() -> None:
    for tool in ("storescu", "storescp", "echoscu"):
        if not (DCMTK / tool).exists():
            sys.exit(f"bench: dcmtk's {tool} is needed: apt-get install dcmtk")
    if orthanc_peer.install():
        sys.exit("bench: Orthanc is needed: apt-get install orthanc")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2000, help="instances per corpus (a multiple of 4)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of C-STORE runs (medians are reported)")
    parser.add_argument("--http-repeats", type=int, default=1, help="rounds that also run saveImgFile over HTTP")
    parser.add_argument("--budget", type=float, default=600, help="seconds: no new round starts that would end later")
    parser.add_argument("--corpora", default="small,real", help="comma-separated subset of small,real")
    parser.add_argument("--receivers", default="mie,storescp,orthanc", help="comma-separated subset")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP uploads")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a tree of an earlier commit (git archive, unpacked): receivers named mie@base, mie-s3@base run its code",
    )
    parser.add_argument(
        "--http-targets",
        default=",".join(HTTP_TARGETS),
        help="comma-separated subset of mie (saveImgFile, §2.2) and orthanc (REST upload, POST /instances)",
    )
    parser.add_argument(
        "--no-scp",
        action="store_true",
        help="skip the C-STORE runs: only the HTTP uploads, --http-repeats rounds (with --instances 500: about 3 min)",
    )
    parser.add_argument(
        "--workdir",
        default="/var/tmp",
        help="where every receiver's files go (default /var/tmp: on these machines creating a file under /tmp "
        "costs about 1.2 ms of kernel CPU, 20 times what it costs elsewhere on the same disk)",
    )
    args = parser.parse_args()
    global BASELINE
    BASELINE = args.baseline.resolve() if args.baseline else None
    if args.instances % 4:
        sys.exit("bench: --instances must be a multiple of 4")
    receivers = [] if args.no_scp else args.receivers.split(",")
    http_targets = [] if args.no_http else args.http_targets.split(",")
    if any(target not in HTTP_TARGETS for target in http_targets):
        sys.exit(f"bench: --http-targets is a subset of {','.join(HTTP_TARGETS)}")
    repeats = args.http_repeats if args.no_scp else args.repeats
    corpus_names = args.corpora.split(",")

    began = time.monotonic()
    check_tools()
    dcmtk_version = subprocess.run([str(DCMTK / "storescu"), "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    orthanc_version = subprocess.run([str(ORTHANC), "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"bench: {dcmtk_version.strip()}; {orthanc_version.strip()}; pydicom {pydicom.__version__}")
    print(f"bench: mie code {code_state()}")
    before = machine_busy_seconds()
    time.sleep(1.0)
    background = machine_busy_seconds() - before
    print(f"bench: background load before the run: {background:.0%} of one core (of {os.cpu_count() or 0}00%)"
          + ("  WARNING: the machine is busy; figures will be noisy" if background > 0.25 else ""))  # fmt: skip

    spec = load_spec()
    hi_img_indx = example_body(spec)["input"][0]["hiImgIndx"]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="mie-cstore-bench-", dir=args.workdir) as tmp:
        base = Path(tmp)
        cfg = Path(shutil.copy(STORESCU_CFG, base / "storescu.cfg"))
        study_uid = generate_uid()
        ctx = RunContext(spec, study_uid, hi_img_indx, args.instances, cfg)
        corpora: dict[str, Corpus] = {}
        for name in corpus_names:
            started = time.monotonic()
            corpus = build_corpus(name, base / f"corpus-{name}", args.instances, study_uid)
            corpora[name] = corpus
            mix = ", ".join(f"{label} {count}" for label, count in corpus.mix.items())
            mean, smallest = corpus.total_bytes / len(corpus.files) / 1000, min(corpus.sizes.values()) / 1000
            print(f"bench: corpus {name}: {len(corpus.files)} files, {corpus.total_bytes / MB:.1f} MB, mean {mean:.1f} kB, "
                  f"min {smallest:.1f} kB, max {max(corpus.sizes.values()) / 1000:.1f} kB "
                  f"({time.monotonic() - started:.1f}s to build): {mix}")  # fmt: skip
        settle_disk(base)  # the corpora were just written: the first receiver must not pay for them
        print(f"bench: study {study_uid}, accession {ACCESSION}, exam {hi_img_indx[:24]}…")
        print(f"bench: storescu -aet {CALLING_AE} -aec {CALLED_AE} -xf storescu.cfg {PROFILE} +sd (TCP_NODELAY=1); "
              f"up to {repeats} rounds, budget {args.budget:.0f}s")  # fmt: skip

        cstore_round_seconds: list[float] = []  # C-STORE runs only: later rounds have no HTTP runs
        rounds_done = 0
        for repeat in range(repeats):
            elapsed = time.monotonic() - began
            if cstore_round_seconds and elapsed + max(cstore_round_seconds) > args.budget:
                print(f"bench: stopping after {rounds_done} round(s): another would end after the {args.budget:.0f}s budget")
                break
            http_seconds = 0.0
            round_started = time.monotonic()
            with_http = repeat < args.http_repeats
            for name, corpus in corpora.items():
                for receiver in receivers:
                    for associations in (1, 4):
                        run = cstore_run(ctx, receiver, corpus, associations, base)
                        runs.append(run)
                        print(f"  round {repeat + 1} {name:<5} {receiver:<8} x{associations}: {run.per_second:7,.0f} inst/s "
                              f"{run.mb_per_second:6.1f} MB/s ({run.seconds:.2f}s; "
                              f"receiver CPU {run.receiver_cpu / run.seconds:.0%}, "
                              f"storescu {run.sender_cpu / run.seconds:.0%}, other {run.other_cpu / run.seconds:.0%}) "
                              f"stored {run.stored}"
                              + (f"  PROBLEMS: {run.problems}" if run.problems else ""), flush=True)  # fmt: skip
                if with_http and http_targets:
                    http_started = time.monotonic()
                    payloads = []
                    for path in corpus.files:
                        data = path.read_bytes()
                        payloads.append((data, hashlib.md5(data, usedforsecurity=False).hexdigest()))
                    for clients in (1, 4):
                        for target in http_targets:  # side by side: the machine's load drifts
                            run = http_run(ctx, corpus, clients, base, payloads, target)
                            runs.append(run)
                            print(f"  round {repeat + 1} {name:<5} {target}-http x{clients}: {run.per_second:7,.0f} inst/s "
                                  f"{run.mb_per_second:6.1f} MB/s ({run.seconds:.2f}s; receiver CPU "
                                  f"{run.receiver_cpu / run.seconds:.0%}, client {run.sender_cpu / run.seconds:.0%}, "
                                  f"other {run.other_cpu / run.seconds:.0%}) stored {run.stored}"
                                  + (f"  PROBLEMS: {run.problems}" if run.problems else ""), flush=True)  # fmt: skip
                    del payloads
                    http_seconds += time.monotonic() - http_started
            rounds_done += 1
            # Without C-STORE runs, a round is its HTTP runs.
            cstore_round_seconds.append(time.monotonic() - round_started - (http_seconds if receivers else 0.0))
            print(
                f"bench: round {repeat + 1} took {time.monotonic() - round_started:.0f}s "
                f"({http_seconds:.0f}s of it HTTP uploads)",
                flush=True,
            )
        report(runs, corpora)
    print(f"bench: {rounds_done} round(s), {min(rounds_done, args.http_repeats) if http_targets else 0} with HTTP uploads, "
          f"{rounds_done if receivers else 0} with C-STORE; total {time.monotonic() - began:.0f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
