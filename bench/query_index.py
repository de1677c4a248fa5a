"""Benchmark: §2.6 queryExamRpotImgIndxListFHospital over HTTP against a large database, beside mie's own §2.1
rate (saveExamRpotImgInfo) measured in the same run, against the same server, with the same load generator.

For each engine (SQLite, then PostgreSQL in a database of its own that the script creates and drops):
  1. N exam records (default 1,000,000: 100,000 persons with 10 exams each, the document's §2.1 example
     record with its person, index and date changed) are loaded straight into the database (Core inserts);
  2. `mie serve` runs on that database as it starts by default (--workers to change it);
  3. wrk sends §2.6 queries, each for another person spread over all of them (bench/query_index.lua), at 1
     and 8 connections, then §2.1 messages (bench/save_exam.lua) at 1 and 8 connections;
  4. the figures, the server's CPU per request (all its processes) and the ratios (§2.6 / §2.1 requests/s)
     are printed, with the issue's goal: p99 under 10 ms at 8 connections on PostgreSQL, and a query rate at
     least mie's §2.1 rate.

With --baseline DIR, steps 2-4 run a second time on the same database with another checkout of mie first on
the server's PYTHONPATH (e.g. the code before a change): before and after in one run. With --profile, py-spy
samples the server (all its processes) during a 1-connection run of §2.6, and each sample is put in one stage
(bench/fetch_one.py's STAGES; the links' sealing counts as the answer): the CPU per request by stage.

Run:  .venv/bin/python bench/query_index.py --persons 100000            (1,000,000 records)
      .venv/bin/python bench/query_index.py --persons 2000 --duration 3 --warmup 1   (quick look)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fetch_one  # bench/: the stages of a py-spy profile
import http_save_exam as base  # bench/: the wrk runner, servers and §2.1 template of the §2.1 benchmark
from sqlalchemy import create_engine, text

from mie.client import Messages, MieClient, wire

QUERY_PATH = "/mie/api/mie/queryExamRpotImgIndxListFHospital"
QUERY_LUA = base.BENCH / "query_index.lua"
QUERIER, QUERIER_KEY = "H52030200193", "bench-query-key"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
EXAMS_PER_PERSON = 10


def certno_of(person: int) -> str:
    return f"5201{person:013d}1"  # 18 characters, as query_index.lua builds it


def load_exams(database_url: str, persons: int, batch: int = 20_000) -> float:
    """Insert persons x 10 exam records straight into exam_record (PostgreSQL: COPY; SQLite: executemany on the
    driver); returns records per second. Straight in, as the issue asks: §2.1 at mie's rate would take hours."""
    from mie.store.tables import ExamRecord

    spec = base.load_spec()
    template = base.example_body(spec)["input"][0]
    columns = (
        *("hi_img_indx", "institution_code", "psn_cert_type", "certno", "exam_date"),
        *("study_uid", "version", "msgid", "record", "received_at"),
    )
    first_day = date(2016, 1, 1)
    received = datetime.now(UTC)
    # the record serialised once; each row's own values go into its placeholders
    placeholders = {"hiImgIndx": "@INDX@", "certno": "@CERTNO@", "psnCertType": "111", "examDate": "@DATE@"}
    record_json = json.dumps({**template, **placeholders}, ensure_ascii=False)

    def rows() -> Iterator[tuple[Any, ...]]:
        for person in range(persons):
            certno = certno_of(person)
            for exam in range(EXAMS_PER_PERSON):
                day = first_day + timedelta(days=exam * 300 + person % 97)
                index = f"111-{certno}-{day:%Y%m%d}143000-0000000000000-000000000"
                record = record_json.replace("@INDX@", index).replace("@CERTNO@", certno).replace("@DATE@", day.isoformat())
                yield (
                    index, base.INSTITUTION, "111", certno, day.isoformat(), template["studyUid"], 1,
                    "H11010202321202501010000000001", record, received,
                )  # fmt: skip

    table = ExamRecord.__tablename__
    engine = create_engine(database_url)
    began = time.monotonic()
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        if engine.dialect.name == "postgresql":
            with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            pending: list[tuple[Any, ...]] = []
            for row in rows():
                pending.append((*row[:-1], row[-1].isoformat(sep=" ")))
                if len(pending) == batch:
                    driver.executemany(statement, pending)
                    pending.clear()
            driver.executemany(statement, pending)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return persons * EXAMS_PER_PERSON / (time.monotonic() - began)


def query_of(certno: str) -> dict[str, str]:
    return {"psnCertType": "111", "certno": certno, "begntime": "2016-01-01", "endtime": "2030-12-31"}


def query_template() -> str:
    """The §2.6 body built by mie.client, as compact JSON, with @MSGID@ and @CERTNO@ where query_index.lua puts
    each request's own."""
    body = {**wire(Messages(QUERIER, QUERIER_KEY).query_index(query_of("@CERTNO@"))), "msgid": "@MSGID@"}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


# §2.6's stages: fetch_one's, with the links' sealing and the ResDTO records counted as the answer.
STAGES = [
    (name, re.compile(pattern.pattern + r"|mie/service/links\.py|_res_dto") if name == "answer" else pattern)
    for name, pattern in fetch_one.STAGES
]


def profile_stages(server: base.Server, wrk: str, lua: Path, body: Path, args: argparse.Namespace, workdir: Path) -> Counter[str]:
    """Stages of py-spy's samples of every process of `server` during a 1-connection run of §2.6."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    assert server.process is not None
    out = workdir / f"profile-{server.name}.txt"
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--format", "raw", "--rate", "500",
         "--duration", str(round(args.duration) + 1), "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    base.run_wrk(wrk, lua, server, body, 99, 1, args.duration, 1, QUERY_PATH, (str(args.persons),))
    spy.wait(timeout=120)
    stages: Counter[str] = Counter()
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():  # a process's first frame is its command line (which names the database): not code
            frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
            if frames and frames[-1].startswith("_drain_forever ("):  # the audit's drainer asleep between batches
                continue
            stages[next(name for name, pattern in STAGES if any(pattern.search(frame) for frame in frames))] += int(count)
    return stages


def run_engine(
    engine_name: str, database_url: str, workdir: Path, wrk: str, args: argparse.Namespace
) -> dict[str, dict[str, dict[int, base.WrkResult]]]:
    data_dir = workdir / f"{engine_name}-data"
    mie = shutil.which("mie") or str(Path(sys.executable).with_name("mie"))
    for code, key in ((base.INSTITUTION, base.KEY), (QUERIER, QUERIER_KEY)):
        command = [mie, "institution", "add", code, "--key", key, "--data-dir", str(data_dir), "--database-url", database_url]
        subprocess.run(command, check=True, cwd=base.ROOT, stdout=subprocess.DEVNULL)
    print(f"  {engine_name}: loading {args.persons * EXAMS_PER_PERSON:,} exam records ...", flush=True)
    rate = load_exams(database_url, args.persons)
    print(f"  {engine_name}: loaded at {rate:,.0f} records/s", flush=True)
    trees = {"mie": None, **({"baseline": args.baseline} if args.baseline else {})}
    return {
        tree: serve_and_measure(f"{engine_name} {tree}", mie, database_url, data_dir, workdir, wrk, args, python_path)
        for tree, python_path in trees.items()
    }


def serve_and_measure(
    label_prefix: str,
    mie: str,
    database_url: str,
    data_dir: Path,
    workdir: Path,
    wrk: str,
    args: argparse.Namespace,
    python_path: str | None,
) -> dict[str, dict[int, base.WrkResult]]:
    engine_name = label_prefix
    port = base.free_port()
    command = [
        mie, "serve", "--http-port", str(port), "--data-dir", str(data_dir), "--database-url", database_url,
        "--dicom-port", "0", "--no-access-log", "--log-level", "warning",
        *(("--workers", args.workers) if args.workers else ()),
    ]  # fmt: skip
    if python_path:
        command = ["env", f"PYTHONPATH={python_path}", *command]
    name = label_prefix.replace(" ", "-")
    server = base.Server(f"mie-{name}", command, port, workdir / f"{name}.log")
    results: dict[str, dict[int, base.WrkResult]] = {"§2.6": {}, "§2.1": {}}
    server.start(timeout=120)
    try:
        with MieClient(f"http://127.0.0.1:{port}", QUERIER, QUERIER_KEY) as client:
            probe = client.query_index(query_of(certno_of(args.persons // 2)))
        found = len(probe.data or [])
        print(f"  {engine_name}: probe §2.6 -> code {probe.code.value}, {found} records: {probe.message}", flush=True)
        if found != EXAMS_PER_PERSON:
            raise SystemExit(f"bench: the probe query should find {EXAMS_PER_PERSON} records")
        query_lua = Path(shutil.copy(QUERY_LUA, workdir / QUERY_LUA.name))
        save_lua = Path(shutil.copy(base.LUA, workdir / base.LUA.name))
        query_body, save_body = workdir / "query.json", workdir / "save.json"
        query_body.write_text(query_template(), encoding="utf-8")
        base.write_template(base.load_spec(), save_body)
        run = 1
        for label, lua, body, path, extra in (
            ("§2.6", query_lua, query_body, QUERY_PATH, (str(args.persons),)),
            ("§2.1", save_lua, save_body, base.PATH, ()),
        ):
            base.run_wrk(wrk, lua, server, body, run, 8, args.warmup, args.threads, path, extra)
            run += 1
            for connections in (1, 8):
                measured = base.run_wrk(wrk, lua, server, body, run, connections, args.duration, args.threads, path, extra)
                run += 1
                results[label][connections] = measured
                print(
                    f"  {engine_name} {label} {connections} conn: {measured.rps:,.0f} req/s, p50 {measured.p50_ms:.2f} ms, "
                    f"p99 {measured.p99_ms:.2f} ms, server CPU {cpu_per_request(measured):.3f} ms/request, "
                    f"non-2xx {measured.non2xx}, not ok {measured.not_success}"
                    + (f" ({measured.non2xx_examples[:300]})" if measured.non2xx_examples else ""),
                    flush=True,
                )
            if args.profile and label == "§2.6":
                stages = profile_stages(server, wrk, lua, body, args, workdir)
                total, per_request = sum(stages.values()), cpu_per_request(results[label][1])
                print(f"  {engine_name} §2.6 CPU by stage (py-spy, {total} samples; of {per_request:.3f} ms/request):")
                for stage, _ in STAGES:
                    share = stages[stage] / total if total else 0.0
                    print(f"    {stage:<12} {share:6.1%}  {share * per_request:.3f} ms", flush=True)
        findings, traceback = base.log_findings(server.log)
        if findings or traceback:
            print(f"  {engine_name}: server log: {len(findings)} line(s) at WARNING or above")
            print(*findings[:3], *traceback, sep="\n    ")
    finally:
        server.stop()
    return results


def cpu_per_request(result: base.WrkResult) -> float:
    """The server's CPU (all its processes) per request, in ms."""
    return result.server_cpu_s * 1000 / max(1, result.requests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000, help="persons loaded, 10 exams each (default 100,000)")
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per (transaction, connections)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per transaction (8 connections)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", help="mie serve --workers (default: mie's own default)")
    parser.add_argument("--baseline", help="another checkout of mie, measured the same way on the same database")
    parser.add_argument("--profile", action="store_true", help="py-spy §2.6's stages (1 connection)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    wrk = base.ensure_wrk()
    print(f"bench: mie code {base.code_state()}; {args.persons:,} persons x {EXAMS_PER_PERSON} exams; "
          f"{args.duration:g}s per measurement, mie --workers {args.workers or 'at its default'}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    all_results: dict[str, dict[str, dict[int, base.WrkResult]]] = {}
    with tempfile.TemporaryDirectory(prefix="mie-bench-query-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        for engine_name in args.engines.split(","):
            print(f"engine {engine_name}:", flush=True)
            if engine_name == "sqlite":
                url = f"sqlite:///{workdir / 'sqlite-data' / 'mie.sqlite3'}"
                (workdir / "sqlite-data").mkdir()
                for tree, results in run_engine(engine_name, url, workdir, wrk, args).items():
                    all_results[f"{engine_name} {tree}"] = results
            elif engine_name == "postgresql":
                name = f"mie_bench_{uuid.uuid4().hex[:8]}"
                admin = create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f"CREATE DATABASE {name}"))
                try:
                    for tree, results in run_engine(engine_name, f"{POSTGRES_SERVER}/{name}", workdir, wrk, args).items():
                        all_results[f"{engine_name} {tree}"] = results
                finally:
                    with admin.connect() as connection:
                        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    admin.dispose()
            else:
                sys.exit(f"bench: unknown engine {engine_name}")

    print()
    print(f"{'engine, code':<20} {'transaction':<6} {'conn':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/req':>10} {'non-2xx':>8} {'not ok':>7}")  # fmt: skip
    for engine_name, by_label in all_results.items():
        for label, by_connections in by_label.items():
            for connections, r in sorted(by_connections.items()):
                print(f"{engine_name:<20} {label:<6} {connections:>4} {r.rps:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} "
                      f"{cpu_per_request(r):>10.3f} {r.non2xx:>8} {r.not_success:>7}")  # fmt: skip
    print()
    print("ratios (§2.6 requests/s / §2.1 requests/s, same server, same run) and the goal:")
    for engine_name, by_label in all_results.items():
        for connections in (1, 8):
            query, save = by_label["§2.6"].get(connections), by_label["§2.1"].get(connections)
            if query and save and save.rps:
                print(f"  {engine_name:<20} {connections} conn: x{query.rps / save.rps:.2f}  (p99 {query.p99_ms:.2f} ms)")
    postgres = all_results.get("postgresql mie", {}).get("§2.6", {}).get(8)
    if postgres:
        save8 = all_results["postgresql mie"]["§2.1"][8]
        met = postgres.p99_ms < 10 and postgres.rps >= save8.rps
        print(f"goal (PostgreSQL, 8 conn: p99 < 10 ms and §2.6 rate >= §2.1 rate): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
