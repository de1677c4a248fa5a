"""Benchmark: the CPU one request costs `mie serve`, by stage, for §2.1 saveExamRpotImgInfo, §2.2 saveImgFile and
WADO-RS (an instance's retrieve and its first frame), measured with a profiler; before and after a change.

One `mie serve` as it starts by default (fresh --data-dir, the institution registered, the §2.1 example's exam and
its study registered, one 0.5 MB CT stored by §2.2 for WADO-RS) is sent one kind of request at a time over one
keep-alive connection (Python's http.client, in this process) for --duration seconds, while py-spy (`record
--subprocesses --format raw`, 500 Hz) samples every process of the server:

  §2.1      the §2.1 example with a new msgid and a new hiImgIndx in every request (as bench/save_exam.lua): each
            one validated, authenticated, written and committed; every answer must hold succFlag "1".
  §2.2      saveImgFile of a new 10 kB instance each time (the small corpus of cstore_ingest.py, study registered
            with its total), the envelope in headers; every answer must have code 0.
  WADO-RS instance   GET .../studies/{s}/series/{se}/instances/{i} (multipart/related, application/dicom), HTTP
            Basic with the institution's code and key; the part must be the stored file.
  WADO-RS frame      GET .../instances/{i}/frames/1, transfer-syntax=*; 512x512x2 bytes of pixel data.

CPU per request is the server's (every process of its session, /proc utime+stime) over the run, divided by the
requests answered. py-spy samples only threads holding the GIL (`--gil`): without it, it also counts threads that
wait (on the disk's fsync, in the event loop's epoll, on a lock) as running, several times the CPU the process
uses at one connection here. Each sample is put in the first stage (STAGES, in order) one of whose frames it
matches; a stage's share of the samples times the CPU per request gives its milliseconds. What runs with the GIL
released (SQLite's statements and commit, the kernel's work in fsync and under uvloop's socket calls) is not
sampled, so it is spread over the stages with the rest; and a thread preempted while it holds the GIL (on a loaded
machine, often) counts where it stood. The split is a guide; the totals are measured.

With --baseline DIR a second server runs the same requests first, with DIR (another checkout, for example the code
before a change exported by `git archive`) first on its PYTHONPATH, and the two budgets are printed side by side.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/cpu_budget.py [--baseline /tmp/before] [--duration 8]
      (py-spy: `.venv/bin/pip install py-spy`, and the right to ptrace the server)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cstore_ingest as cstore  # bench/: the corpora, the registration of an exam
import fetch_one  # bench/: the 0.5 MB CT, `mie serve` as it starts by default
import http_save_exam as base  # bench/: servers, CPU accounting
import pydicom
from pydicom.uid import generate_uid

from mie.client import MieClient

# A sample's stage: the first rule (in this order) one of its frames matches, by file or function. fetch_one.py's
# rules, with what §2.1, §2.2 and WADO-RS add: the multipart parse and the DICOM header's scan are the request's
# validation (as the JSON body's read and parse are), the spool file's writing, MD5 and fsync are storage, the
# multipart answer's assembly is the answer, DICOMweb's admission is access. "transaction" is the services' own
# code beyond those; "thread hops" what is left on a worker thread or in handing work to one and back.
STAGES: list[tuple[str, re.Pattern[str]]] = [
    ("audit", re.compile(r"mie/service/audit\.py|\brecord \(mie/service/retrieval|on_end|audit_journal|journal\.py")),
    ("access", re.compile(r"mie/service/access\.py|mie/service/institutions\.py|\badmit_(basic|token) ")),
    (
        "validation",
        re.compile(
            r"mie/contract/|mie/service/envelope\.py|mie/web/validators\.py|_images_input|python_multipart/"
            r"|\b_on_\w+ \(mie/web/uploads|mie/service/part10\.py|scan_header|check_form"
        ),
    ),
    (
        "storage",
        re.compile(
            r"mie/store/|sqlalchemy/|sqlite3|psycopg|open_stored|read_stored|\bpieces \(|_read_all"
            r"|mie/service/uploads\.py|\bopen_file \(|\bread \(.*io|fsync"
        ),
    ),
    (
        "answer",
        re.compile(
            r"base64|_image_stream|_success|_img_cahe_result|json/encoder|jsonifier|whole \(|chunks \(|orjson"
            r"|\b_multipart \(|mie/service/answers\.py|starlette/responses"
        ),
    ),  # fmt: skip
    ("transaction", re.compile(r"mie/service/|handlers/|_transaction \(mie/web/queries")),
    ("thread hops", re.compile(r"anyio/|starlette/concurrency|concurrent/futures|threading\.py")),
    ("routing", re.compile(r"connexion/|starlette/routing|starlette/middleware|mie/web/")),
    ("HTTP", re.compile(r".")),
]

RATE = 500  # py-spy's samples per second
# Under a routing frame (the lean layer's, connexion's), what uvicorn and the event loop do when the layer writes its
# answer or reads the body is HTTP: a sample in "routing" whose deepest frame of either kind is one of these.
_HTTP_UNDER_ROUTING = re.compile(r"uvicorn/|httptools|asyncio/|uvloop|mie/web/protocol\.py")
BOUNDARY = "mie-budget-boundary-7f3a"
BASE_TIME = datetime(2000, 1, 1)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None


Check = Callable[[int, bytes], str | None]  # (status, body) -> what is wrong, or None


@dataclass
class Kind:
    """One kind of request: an endless supply of them and the check of each answer."""

    label: str
    requests: Iterator[Request]
    check: Check


def _msgid(number: int) -> str:
    moment = BASE_TIME + timedelta(seconds=number // 10000)
    return f"{cstore.INSTITUTION}{moment:%Y%m%d%H%M%S}{number % 10000:04d}"


def save_exams(spec: dict[str, object], first: int) -> Iterator[Request]:
    """§2.1's example, a new msgid and hiImgIndx each time (numbers from `first` on)."""
    body = base.example_body(spec)
    body["infCode"], body["key"] = cstore.INSTITUTION, cstore.KEY
    number = first
    while True:
        body["msgid"] = _msgid(number)
        body["input"][0]["hiImgIndx"] = (
            f"111-110101197804050038-{BASE_TIME + timedelta(seconds=number):%Y%m%d%H%M%S}-0000000000000-000000000"
        )
        yield Request(
            "POST", cstore.SAVE_EXAM, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False).encode()
        )
        number += 1


def saved(status: int, answer: bytes) -> str | None:
    try:
        document = json.loads(answer)
        ok = status == 200 and document["code"] == 0 and all(item["succFlag"] == "1" for item in document["data"] or [])
    except (ValueError, KeyError, TypeError):
        ok = False
    return None if ok else f"HTTP {status} {answer[:200]!r}"


def save_images(ctx: cstore.RunContext, files: list[Path], first: int) -> Iterator[Request]:
    """§2.2 of each file in turn, as cstore_ingest.py sends it (multipart, the envelope in headers)."""
    for number, path in enumerate(files, first):
        data = path.read_bytes()
        fields = {
            "hiImgIdx": ctx.hi_img_indx, "studyUid": ctx.study_uid, "accessionNumber": cstore.ACCESSION,
            "fileMd5": hashlib.md5(data, usedforsecurity=False).hexdigest(), "imageTotalNum": str(ctx.instances),
        }  # fmt: skip
        parts = [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        ]
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="dicom"; filename="image.dcm"\r\n'
            "Content-Type: application/dicom\r\n\r\n".encode()
            + data
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "infno": "saveImgFile",
            "msgid": _msgid(number), "infTime": "2025-11-11 10:10:00", "infCode": cstore.INSTITUTION, "key": cstore.KEY,
        }  # fmt: skip
        yield Request("POST", cstore.SAVE_IMG_FILE, headers, b"".join(parts))
    raise RuntimeError("cpu_budget: the §2.2 corpus ran out; build more files (--uploads)")


def stored(status: int, answer: bytes) -> str | None:
    try:
        ok = status == 200 and json.loads(answer)["code"] == 0
    except (ValueError, KeyError, TypeError):
        ok = False
    return None if ok else f"HTTP {status} {answer[:200]!r}"


def wado(path: str, accept: str) -> Iterator[Request]:
    credentials = base64.b64encode(f"{cstore.INSTITUTION}:{cstore.KEY}".encode()).decode()
    request = Request("GET", path, {"Authorization": f"Basic {credentials}", "Accept": accept}, None)
    while True:
        yield request


def holds(expected: bytes) -> Check:
    def check(status: int, answer: bytes) -> str | None:
        return None if status == 200 and expected in answer else f"HTTP {status}, {len(answer)} bytes, not the expected part"

    return check


def drive(port: int, kind: Kind, seconds: float) -> tuple[int, list[str]]:
    """Requests of `kind` one after another on one keep-alive connection for `seconds`: (answers, problems)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    answered, problems = 0, []
    ends = time.monotonic() + seconds
    try:
        while time.monotonic() < ends:
            request = next(kind.requests)
            connection.request(request.method, request.path, request.body, request.headers)
            answer = connection.getresponse()
            content = answer.read()
            answered += 1
            problem = kind.check(answer.status, content)
            if problem is not None and len(problems) < 3:
                problems.append(problem)
    finally:
        connection.close()
    return answered, problems


def profiled(
    server: base.Server, kind: Kind, seconds: float, workdir: Path, tag: str
) -> tuple[float, int, Counter[str], list[str]]:
    """One run of `kind` under py-spy: (CPU ms per request, requests, samples by stage, problems)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    assert server.process is not None
    out = workdir / f"profile-{tag}.txt"
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--format", "raw", "--rate", str(RATE),
         "--gil", "--duration", str(round(seconds) + 2), "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # py-spy attaches
    cpu_before = server.cpu_seconds()
    answered, problems = drive(server.port, kind, seconds)
    cpu = server.cpu_seconds() - cpu_before
    spy.wait(timeout=120)
    stages = stages_of(out)
    return cpu * 1000 / max(1, answered), answered, stages, problems


def stage_of(frames: list[str]) -> str:
    """The stage of one sample's stack (root first): the first of STAGES one of its frames matches; but a "routing"
    sample whose deepest routing-or-HTTP frame is uvicorn's or the event loop's is HTTP."""
    stage = next(name for name, pattern in STAGES if any(pattern.search(frame) for frame in frames))
    if stage == "routing":
        routing = dict(STAGES)["routing"]
        deepest = next(frame for frame in reversed(frames) if routing.search(frame) or _HTTP_UNDER_ROUTING.search(frame))
        if not routing.search(deepest):
            return "HTTP"
    return stage


def stages_of(profile: Path) -> Counter[str]:
    stages: Counter[str] = Counter()
    for line in profile.read_text(encoding="utf-8", errors="replace").splitlines() if profile.exists() else []:
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            stages[stage_of(stack.split(";"))] += int(count)
    return stages


def budget(
    label: str, pythonpath: str | None, args: argparse.Namespace, spec: dict[str, object]
) -> dict[str, tuple[float, int, Counter[str]]]:
    """Start a server with `pythonpath` first on its path, prepare it, and profile each kind of request."""
    results: dict[str, tuple[float, int, Counter[str]]] = {}
    saved_path = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory(prefix=f"mie-budget-{label}-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        hi_img_indx = base.example_body(spec)["input"][0]["hiImgIndx"]
        study_uid = generate_uid()
        corpus = cstore.build_corpus("small", workdir / "small", args.uploads, study_uid)
        ct = fetch_one.instance_file(workdir, study_uid)
        ctx = cstore.RunContext(spec, study_uid, hi_img_indx, args.uploads + 1, Path("/dev/null"))
        server = fetch_one.mie_server(workdir, None)
        try:
            server.start(timeout=120)
            cstore.register(server.port, ctx)
            with MieClient(f"http://127.0.0.1:{server.port}", cstore.INSTITUTION, cstore.KEY) as client:
                client.upload_image(ct, hi_img_indx=hi_img_indx, study_uid=study_uid,
                                    accession_number=cstore.ACCESSION, image_total_num=ctx.instances)  # fmt: skip
            header = pydicom.dcmread(ct)
            instance = f"/dicom-web/studies/{study_uid}/series/{header.SeriesInstanceUID}/instances/{header.SOPInstanceUID}"
            kinds = [
                Kind("§2.1", save_exams(spec, 1), saved),
                Kind("§2.2", save_images(ctx, corpus.files, 1_000_000), stored),
                Kind("WADO-RS instance", wado(instance, 'multipart/related; type="application/dicom"'), holds(ct.read_bytes())),
                Kind(
                    "WADO-RS frame",
                    wado(instance + "/frames/1", 'multipart/related; type="application/octet-stream"; transfer-syntax=*'),
                    holds(header.PixelData[:4096]),
                ),
            ]
            for kind in kinds:
                if args.only and kind.label not in args.only.split(","):
                    continue
                drive(server.port, kind, args.warmup)
                per_request, answered, stages, problems = profiled(
                    server, kind, args.duration, workdir, f"{label}-{len(results)}"
                )
                results[kind.label] = (per_request, answered, stages)
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    shutil.copy(
                        workdir / f"profile-{label}-{len(results) - 1}.txt", Path(args.keep) / f"{label}-{kind.label}.txt"
                    )
                print(f"  {label} {kind.label}: {answered / args.duration:,.0f} req/s, {per_request:.3f} ms CPU/request, "
                      f"{sum(stages.values())} samples, load {os.getloadavg()[0]:.2f}"
                      + (f"  PROBLEMS: {problems}" if problems else ""), flush=True)  # fmt: skip
        finally:
            server.stop()
            if saved_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved_path
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds profiled per kind of request")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up per kind of request")
    parser.add_argument("--uploads", type=int, default=4000, help="instances built for §2.2 (a multiple of 4)")
    parser.add_argument("--keep", help="a directory to copy py-spy's raw profiles into")
    parser.add_argument("--again", help="a --keep directory: split its profiles again (after a change to STAGES)")
    parser.add_argument("--only", help="comma-separated labels of the kinds to run (default: all)")
    parser.add_argument("--baseline", help="a checkout whose code the 'before' server runs (first on its PYTHONPATH)")
    args = parser.parse_args()
    runs: dict[str, dict[str, tuple[float, int, Counter[str]]]] = {}
    if args.again:
        for name, (per_request, answered) in json.loads((Path(args.again) / "totals.json").read_text()).items():
            run, _, label = name.partition("-")
            runs.setdefault(run, {})[label] = (per_request, answered, stages_of(Path(args.again) / f"{name}.txt"))
        report(runs)
        return 0
    print(f"bench: mie code {base.code_state()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    spec = base.load_spec()
    if args.baseline:
        runs["before"] = budget("before", args.baseline, args, spec)
    runs["after" if args.baseline else "this"] = budget("after" if args.baseline else "this", None, args, spec)
    report(runs)
    return 0


def report(runs: dict[str, dict[str, tuple[float, int, Counter[str]]]]) -> None:
    labels = list(next(iter(runs.values())))
    print()
    print("CPU per request by stage (ms, 1 connection; each stage's share of py-spy's GIL-holding samples x the CPU):")
    columns = [(run, label) for label in labels for run in runs]
    print(f"{'stage':<16} " + " ".join(f"{(label + ' ' + run)[:22]:>22}" for run, label in columns))
    for stage, _ in [*STAGES, ("total (measured)", None)]:
        cells = []
        for run, label in columns:
            per_request, _, stages = runs[run][label]
            total = sum(stages.values()) or 1
            cells.append(per_request if stage == "total (measured)" else stages.get(stage, 0) / total * per_request)
        print(f"{stage:<16} " + " ".join(f"{cell:>22.3f}" for cell in cells))


if __name__ == "__main__":
    sys.exit(main())
