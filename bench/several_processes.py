"""§2.1 and §2.8 with one and two `mie serve` processes on one PostgreSQL schema and one SeaweedFS bucket (issue 15).

`.venv/bin/python bench/several_processes.py [--instances 100] [--duration 8] [--rounds 2]`. Two servers run
throughout (a data directory each, a shared --secrets-dir, --workers 1, no DICOM port); "one" sends every request to
the first, "two" spreads the same client load over both. §2.1: wrk with 8 connections against the first, or 4 and 4
against both at once (their req/s added). §2.8: `--instances` 0.5 MB-class instances stored by §2.2 (untimed), then
fetched back 3 times by 8 client threads (http.client, keep-alive), every answer decoded (base64) and not empty.
Rounds alternate one and two; the ratio is two / one of the medians. The load average is printed with each figure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import http_save_exam as base  # bench/: Server, wrk, the §2.1 template
from fetch_images import timed_fetch
from sqlalchemy import create_engine, text

sys.path.insert(0, str(base.ROOT))
from tests.conftest import POSTGRES_URL, exam_message, img_info_message  # noqa: E402
from tests.dicom_files import make_instance, part10_bytes  # noqa: E402
from tests.objectstore import SeaweedFS  # noqa: E402
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, QUERY_IMAGES, fetch_query, list_query, person_record  # noqa: E402
from tests.test_images_http import headers  # noqa: E402

CLIENTS = 8


def mie(*arguments: str, env: dict[str, str]) -> None:
    command = [shutil.which("mie") or str(Path(sys.executable).with_name("mie")), *arguments]
    subprocess.run(command, check=True, cwd=base.ROOT, stdout=subprocess.DEVNULL, env=env)


def seed(port: int, count: int) -> list[bytes]:
    """An exam with `count` instances stored through §2.2: the §2.8 bodies of its instances."""
    import httpx

    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    record = person_record()
    assert client.post(base.PATH, json=exam_message(record)).json()["code"] == 0
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(record, total=count)).json()["code"] == 0
    for _ in range(count):
        data = part10_bytes(make_instance(record["studyUid"], kind="ct"))
        form = {
            "hiImgIdx": record["hiImgIndx"],
            "studyUid": record["studyUid"],
            "accessionNumber": "114649960",
            "fileMd5": hashlib.md5(data).hexdigest().upper(),
            "imageTotalNum": str(count),
        }
        answer = client.post(
            "/mie/api/mie/saveImgFile", headers=headers(), data=form, files={"dicom": ("i.dcm", data, "application/dicom")}
        )
        assert answer.json()["code"] == 0, answer.text
    listed = client.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    return [json.dumps(fetch_query(record["hiImgIndx"], item)).encode() for item in listed]


def fetch(connection: Any, body: bytes) -> bytes:
    connection.request("POST", QUERY_IMAGES, body=body, headers={"Content-Type": "application/json"})
    answer = connection.getresponse()
    data = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"§2.8 answered {answer.status}: {data[:200]!r}")
    return base64.b64decode(json.loads(data)["data"]["fileContent"])


def fetch_rate(ports: list[int], bodies: list[bytes], repeats: int) -> float:
    """Instances/s of `repeats` passes over `bodies`, CLIENTS threads spread evenly over `ports`."""
    items = bodies * repeats
    results: list[tuple[float, int]] = []
    share = CLIENTS // len(ports)

    def on(port: int, part: list[bytes]) -> None:
        seconds, _, answers = timed_fetch(port, part, share, fetch)
        assert all(answers)
        results.append((seconds, len(part)))

    threads = [threading.Thread(target=on, args=(port, items[n :: len(ports)])) for n, port in enumerate(ports)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(items) / (time.perf_counter() - started)


def save_rate(wrk: str, servers: list[base.Server], template: Path, run: int, seconds: float) -> float:
    lua = base.LUA
    results: list[base.WrkResult] = []
    share = CLIENTS // len(servers)

    def on(server: base.Server, number: int) -> None:
        results.append(base.run_wrk(wrk, lua, server, template, number, share, seconds, share))

    threads = [threading.Thread(target=on, args=(server, run * 10 + n)) for n, server in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.non2xx == 0 and r.not_success == 0 for r in results), results
    return sum(r.rps for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    wrk = shutil.which("wrk") or sys.exit("bench: wrk is required")
    workdir = Path(tempfile.mkdtemp(prefix="mie-several-"))
    (workdir / "seaweedfs").mkdir()
    store = SeaweedFS(workdir / "seaweedfs")
    schema = f"mie_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    servers: list[base.Server] = []
    try:
        store.start()
        bucket = f"mie-{uuid.uuid4().hex[:12]}"
        store.client().create_bucket(Bucket=bucket)
        env = {**os.environ, **store.environment}
        os.environ.update(store.environment)
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        common = ["--database-url", url, "--object-store", f"s3://{bucket}/mie", "--secrets-dir", str(workdir / "secrets")]
        first = [*common, "--data-dir", str(workdir / "d0")]
        mie("institution", "add", base.INSTITUTION, "--key", base.KEY, *first, env=env)
        mie("institution", "add", QUERIER, "--key", QUERIER_KEY, "--allow", "127.0.0.0/8", *first, env=env)
        for n in range(2):
            port = base.free_port()
            command = [
                shutil.which("mie") or str(Path(sys.executable).with_name("mie")), "serve", "--http-port", str(port),
                "--data-dir", str(workdir / f"d{n}"), *common, "--dicom-port", "0", "--no-access-log",
                "--log-level", "warning", "--workers", "1",
            ]  # fmt: skip
            servers.append(base.Server(f"mie-{n}", command, port, workdir / f"mie-{n}.log"))
            servers[-1].start(timeout=120)
        bodies = seed(servers[0].port, args.instances)
        template = workdir / "save.json"
        base.write_template(base.load_spec(), template)
        figures: dict[str, dict[str, list[float]]] = {"§2.1": {"one": [], "two": []}, "§2.8": {"one": [], "two": []}}
        run = 1
        for round_ in range(args.rounds):
            for label, chosen in (("one", servers[:1]), ("two", servers)):
                rps = save_rate(wrk, chosen, template, run, args.duration)
                run += 1
                figures["§2.1"][label].append(rps)
                print(f"round {round_ + 1} {label}: §2.1 {rps:,.0f} req/s (load {os.getloadavg()[0]:.1f})", flush=True)
                rate = fetch_rate([s.port for s in chosen], bodies, 3)
                figures["§2.8"][label].append(rate)
                print(f"round {round_ + 1} {label}: §2.8 {rate:,.1f} instances/s (load {os.getloadavg()[0]:.1f})", flush=True)
        for transaction, by in figures.items():
            one, two = statistics.median(by["one"]), statistics.median(by["two"])
            print(f"{transaction}: one {one:,.1f}, two {two:,.1f} (medians): two / one x{two / one:.2f}")
    finally:
        for server in servers:
            server.stop()
        store.stop()
        with engine.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
