"""Benchmark: §2.8 queryImgCahe of one 0.5 MB instance under wrk, beside Orthanc's REST download of the same
instance and a bare Python ceiling, at 1 and 4 connections; and the CPU each costs per request, by stage.

Targets, each started here on a free port, in one run:

  mie        `mie serve` as it starts by default (`--workers` at its default), the instance stored by §2.2; wrk
             POSTs the §2.8 body (built by mie.client; a query's msgid is not remembered, so one body serves).
             §2.7 of the same exam is measured too (1 connection), for its CPU per request.
  orthanc    Orthanc 1.10 (Debian), the same file stored by `POST /instances`; wrk GETs `/instances/{id}/file`.
  starlette  bench/bare_starlette.py under uvicorn, one process: parses the same body, reads the file, encodes it
             with pybase64 and answers the envelope (what Python does with no contract, access, database or audit),
             with glibc's malloc thresholds as mie's serving processes set them (mie/web/allocator.py).

Before the runs, each target's answer is fetched once and checked: mie's decoded fileContent and Orthanc's body
have the stored file's MD5. wrk (bench/fetch_image.lua) has no response callback, so that wrk's own CPU does not
decide the rate; it counts non-2xx answers. CPU per request is the server's (all its processes) over the run.

With --profile, py-spy samples mie (all its processes) during a 1-connection run of §2.8 and of §2.7, and each
sample is put in one stage by the frames on its stack (see STAGES): the CPU per request by stage.

Run:  .venv/bin/python bench/fetch_one.py                    (about 2 minutes; --profile adds about 1)
      PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/fetch_one.py    (another mie, same bench)
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
from pathlib import Path

import cstore_ingest as cstore  # bench/: the corpus, Orthanc and the registration of an exam
import http_save_exam as base  # bench/: wrk, servers, CPU accounting
import pydicom
from pydicom.uid import generate_uid

from generated.models import FileSnDTO
from mie.client import Messages, MieClient, wire
from tests import orthanc

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "fetch_image.lua"
QUERY_IMAGES = "/mie/api/mie/queryImgCaheFIndex"

# A sample's stage: the first rule (in this order) that one of its frames matches, by file or function. "transaction"
# is the service's own code beyond those (the §2.7/§2.8 logic, building the answer's records); "thread hops" what is
# left on a worker thread or in handing work to one and back (anyio, the executor, waiting for the GIL).
STAGES: list[tuple[str, re.Pattern[str]]] = [
    ("audit", re.compile(r"mie/service/audit\.py|\brecord \(mie/service/retrieval|on_end|audit_journal|journal\.py")),
    ("access", re.compile(r"mie/service/access\.py|mie/service/institutions\.py")),
    ("validation", re.compile(r"mie/contract/|mie/service/envelope\.py|mie/web/validators\.py|_images_input")),
    ("storage", re.compile(r"mie/store/|sqlalchemy/|sqlite3|psycopg|open_stored|read_stored|\bpieces \(|_read_all")),
    ("answer", re.compile(r"base64|_image_stream|_success|_img_cahe_result|json/encoder|jsonifier|whole \(|chunks \(")),
    ("transaction", re.compile(r"mie/service/|_transaction \(mie/web/queries")),
    ("thread hops", re.compile(r"anyio/|starlette/concurrency|concurrent/futures|threading\.py")),
    ("routing", re.compile(r"connexion/|starlette/routing|starlette/middleware|mie/web/|handlers/")),
    ("HTTP", re.compile(r".")),
]


def instance_file(workdir: Path, study_uid: str) -> Path:
    """One 0.5 MB CT of the real corpus (512x512, 16 bits)."""
    return cstore.build_corpus("real", workdir / "corpus", 4, study_uid).files[0]  # the first is a CT


def orthanc_server(workdir: Path) -> base.Server:
    port = base.free_port()
    config = orthanc.configuration(workdir, port, Name="mie-bench")
    return base.Server("orthanc", orthanc.command(config), port, workdir / "orthanc.log")


def mie_server(workdir: Path, workers: str | None) -> base.Server:
    data_dir = workdir / "mie-data"
    mie = shutil.which("mie") or str(Path(sys.executable).with_name("mie"))
    subprocess.run(
        [mie, "institution", "add", cstore.INSTITUTION, "--key", cstore.KEY, "--data-dir", str(data_dir)],
        check=True, cwd=base.ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = base.free_port()
    command = [
        mie, "serve", "--http-port", str(port), "--data-dir", str(data_dir), "--dicom-port", "0",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if workers:
        command += ["--workers", workers]
    return base.Server("mie", command, port, workdir / "mie.log")


def http_get(port: int, path: str, body: bytes | None = None) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request("POST" if body is not None else "GET", path, body, headers)
        answer = connection.getresponse()
        content = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path} answered HTTP {answer.status}: {content[:300]!r}")
        return content
    finally:
        connection.close()


def decoded_file_content(answer: bytes) -> bytes:
    return base64.b64decode(json.loads(answer)["data"]["fileContent"], validate=True)


def profile(server: base.Server, wrk: str, body: Path, seconds: float, workdir: Path, label: str) -> Counter[str]:
    """Stages of py-spy's samples of every process of `server` during a 1-connection run."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    assert server.process is not None
    out = workdir / f"profile-{label}.txt"
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--format", "raw", "--rate", "500",
         "--duration", str(round(seconds) + 1), "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    base.run_wrk(wrk, LUA, server, body, 9, 1, seconds, 1, QUERY_IMAGES)
    spy.wait(timeout=120)
    stages: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        stage = next(name for name, pattern in STAGES if any(pattern.search(frame) for frame in frames))
        stages[stage] += int(count)
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per target")
    parser.add_argument("--workers", help="mie serve --workers (default: mie's own default)")
    parser.add_argument("--profile", action="store_true", help="py-spy mie's stages (1 connection)")
    parser.add_argument("--targets", default="mie,orthanc,starlette")
    args = parser.parse_args()
    wrk = base.ensure_wrk()
    cstore.check_tools()
    print(f"bench: mie code {base.code_state()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    spec = base.load_spec()
    hi_img_indx = base.example_body(spec)["input"][0]["hiImgIndx"]
    rates: dict[str, dict[int, base.WrkResult]] = {}
    with tempfile.TemporaryDirectory(prefix="mie-fetch-one-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        study_uid = generate_uid()
        ctx = cstore.RunContext(spec, study_uid, hi_img_indx, 1, Path("/dev/null"))
        dicom = instance_file(workdir, study_uid)
        data = dicom.read_bytes()
        digest = hashlib.md5(data).hexdigest()
        print(f"bench: one instance, {len(data):,} bytes ({len(data) * 4 // 3:,} in base64)", flush=True)
        header = pydicom.dcmread(dicom, stop_before_pixels=True)
        file_sn = FileSnDTO(exam_uuid=header.StudyInstanceUID, sn_uuid=header.SeriesInstanceUID, inst_uuid=header.SOPInstanceUID)
        messages = Messages(cstore.INSTITUTION, cstore.KEY)
        body = workdir / "fetch.json"
        body.write_text(json.dumps(wire(messages.fetch_image(hi_img_indx, file_sn))), encoding="utf-8")
        listing = workdir / "list.json"
        listing.write_text(json.dumps(wire(messages.list_images(hi_img_indx))), encoding="utf-8")
        for name in args.targets.split(","):
            print(f"target {name}:", flush=True)
            if name == "mie":
                server = mie_server(workdir, args.workers)
            elif name == "orthanc":
                server = orthanc_server(workdir)
            else:
                app_dir = workdir / "starlette"
                app_dir.mkdir(exist_ok=True)
                shutil.copy(BENCH / "bare_starlette.py", app_dir)
                port = base.free_port()
                os.environ["MIE_BENCH_FILE"] = str(dicom)
                # the allocator as mie's serving processes set it (mie/web/allocator.py), by glibc's variables
                os.environ["MALLOC_MMAP_THRESHOLD_"] = str(32 * 1024 * 1024)
                os.environ["MALLOC_TRIM_THRESHOLD_"] = str(64 * 1024 * 1024)
                command = [
                    sys.executable, "-m", "uvicorn", "bare_starlette:app", "--app-dir", str(app_dir),
                    "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
                ]  # fmt: skip
                server = base.Server(name, command, port, workdir / f"{name}.log")
            server.start(timeout=120)
            extra: dict[str, tuple[Path, str]] = {}
            try:
                if name == "mie":
                    cstore.register(server.port, ctx)
                    with MieClient(f"http://127.0.0.1:{server.port}", cstore.INSTITUTION, cstore.KEY) as client:
                        client.upload_image(dicom, hi_img_indx=hi_img_indx, study_uid=study_uid,
                                            accession_number=cstore.ACCESSION, image_total_num=1)  # fmt: skip
                        listed = client.list_images(hi_img_indx).data
                        assert listed is not None and listed.img_file_sn_list == [file_sn]
                    target_body, path = body, QUERY_IMAGES
                    fetched = decoded_file_content(http_get(server.port, QUERY_IMAGES, body.read_bytes()))
                    extra["§2.7"] = (listing, QUERY_IMAGES)
                elif name == "orthanc":
                    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                    connection.request("POST", "/instances", data, {"Content-Type": "application/dicom"})
                    instance_id = json.loads(connection.getresponse().read())["ID"]
                    connection.close()
                    target_body, path = Path("-"), f"/instances/{instance_id}/file"
                    fetched = http_get(server.port, path)
                else:
                    target_body, path = body, QUERY_IMAGES
                    fetched = decoded_file_content(http_get(server.port, QUERY_IMAGES, body.read_bytes()))
                if hashlib.md5(fetched).hexdigest() != digest:
                    raise SystemExit(f"bench: {name} answered another file")
                base.run_wrk(wrk, LUA, server, target_body, 1, 4, args.warmup, 2, path)
                rates[name] = {}
                for connections in (1, 4):
                    result = base.run_wrk(wrk, LUA, server, target_body, 2, connections, args.duration, 2, path)
                    rates[name][connections] = result
                    if result.non2xx or result.socket_errors:
                        print(f"  non-2xx {result.non2xx}, socket errors {result.socket_detail}", flush=True)
                    cpu = result.server_cpu_s * 1000 / max(1, result.requests)
                    print(f"  {connections} conn: {result.rps:8,.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                          f"  p99 {result.p99_ms:6.2f} ms  server CPU {cpu:.3f} ms/request"
                          f"  load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
                for label, (other_body, other_path) in extra.items():
                    result = base.run_wrk(wrk, LUA, server, other_body, 3, 1, args.duration, 1, other_path)
                    rates[f"{name} {label}"] = {1: result}
                    print(f"  {label} 1 conn: {result.rps:8,.0f} req/s  p99 {result.p99_ms:6.2f} ms  server CPU "
                          f"{result.server_cpu_s * 1000 / max(1, result.requests):.3f} ms/request", flush=True)  # fmt: skip
                if name == "mie" and args.profile:
                    for label, (profiled_body, cpu) in {
                        "§2.8": (body, rates["mie"][1]), **{k: (v[0], rates[f"mie {k}"][1]) for k, v in extra.items()}
                    }.items():
                        stages = profile(server, wrk, profiled_body, args.duration, workdir, label.strip("§"))
                        total = sum(stages.values()) or 1
                        per_request = cpu.server_cpu_s * 1000 / max(1, cpu.requests)
                        print(f"  {label} CPU by stage (py-spy, {total} samples; of {per_request:.3f} ms/request):")
                        for stage, _ in STAGES:
                            share = stages.get(stage, 0) / total
                            print(f"    {stage:<12} {share:6.1%}  {share * per_request:.3f} ms", flush=True)
            finally:
                server.stop()
    print()
    if "orthanc" in rates:
        print("ratios (req/s over Orthanc's, same run):")
        for name in rates:
            if name.startswith(("mie", "starlette")) and " " not in name:
                row = "  ".join(f"{c} conn x{rates[name][c].rps / rates['orthanc'][c].rps:.2f}" for c in (1, 4))
                print(f"  {name:<10} {row}")
        met = all(rates["mie"][c].rps >= rates["orthanc"][c].rps for c in (1, 4)) if "mie" in rates else False
        print(f"goal (mie at least Orthanc's rate at 1 and 4 connections): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
