"""Benchmark: saveExamRpotImgInfo (§2.1 example) over HTTP through a real `mie serve`, against baselines
measured in the same run with the same load generator (wrk) and the same connection counts (1 and 8).

Targets, each started by this script on 127.0.0.1 and stopped by it afterwards:

  starlette          bench/bare_starlette.py under uvicorn: parses the same JSON, answers a small JSON
                     document. The ceiling for Python here (one process).
  prism              Stoplight Prism 5.14.2 `prism mock spec/openapi.yaml`: mocks, stores nothing.
                     With the spec as it is, Prism cannot compile the request schema (see bench/README.md),
                     catches that, and does NOT validate the body at all (and retries the compilation on
                     every request).
  prism-validating   the same Prism on a temporary copy of the spec in which the constructs its JSON
                     Schema engine (ajv) refuses are made ECMA-262-valid; there Prism really validates
                     every request. This is the peer "validates but stores nothing".
  mie                `mie serve` (SQLite, persistence on, fresh temporary --data-dir, institution
                     registered first), one worker process.
  mie-w2             the same with `--workers 2`.
  mie-baseline       with --baseline DIR: `mie serve` as `mie` is started, with DIR (another checkout, for example
                     the code before a change exported by `git archive`) first on its PYTHONPATH: before and
                     after in one run.

Every request carries a new msgid and a new hiImgIndx (bench/save_exam.lua), so mie validates,
authenticates and writes a new exam record each time and never answers from its replay table. After each
mie run the rows of exam_record are counted and compared with wrk's request count.

Run:  .venv/bin/python bench/http_save_exam.py                        (about 2.5 minutes)
      .venv/bin/python bench/http_save_exam.py --duration 3 --warmup 1   (quick look)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SPEC = ROOT / "spec" / "openapi.yaml"
LUA = BENCH / "save_exam.lua"
STARLETTE_APP = BENCH / "bare_starlette.py"
PATH = "/mie/api/mie/saveExamRpotImgInfo"
NODE_DIR = BENCH / ".node"
PRISM = NODE_DIR / "node_modules" / ".bin" / "prism"
PRISM_VERSION = "5.14.2"
INSTITUTION, KEY = "H11010202321", "DFDK045DSF1DSF55DS"
# The probe request sent once to each target before the load: outside wrk's range of msgids and indexes.
PROBE_MSGID = "H11010202321202503010102030001"
PROBE_INDEX = "111-110101197804050038-20241122143000-0000000000000-000000000"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- set-up


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat), to see what else ran during a measurement."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def code_state() -> str:
    """The commit mie runs from, and whether its code or spec differ from it (figures belong to a state)."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        status = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "mie", "handlers", "spec", "generated"],
            capture_output=True, text=True,
        )  # fmt: skip
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    listed = f" + uncommitted changes in {len(changed)} file(s): {', '.join(changed[:8])}" if changed else " (clean)"
    return head.stdout.strip() + listed


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk not found; installing the Debian package wrk (apt-get install -y wrk)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("bench: wrk is needed: apt-get install wrk")
    return wrk


def ensure_prism() -> Path:
    if PRISM.exists():
        version = subprocess.run([str(PRISM), "--version"], capture_output=True, text=True).stdout.strip()
        if version == PRISM_VERSION:
            return PRISM
    if not shutil.which("npm"):
        sys.exit("bench: npm is needed to install Prism (apt-get install npm)")
    print(f"bench: installing @stoplight/prism-cli@{PRISM_VERSION} into {NODE_DIR} (npm)", flush=True)
    NODE_DIR.mkdir(exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", f"@stoplight/prism-cli@{PRISM_VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return PRISM


def load_spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def example_body(spec: dict[str, Any]) -> dict[str, Any]:
    operation = spec["paths"][PATH]["post"]
    return copy.deepcopy(operation["requestBody"]["content"]["application/json"]["example"])


def write_template(spec: dict[str, Any], path: Path) -> int:
    """The example as compact JSON with @MSGID@ and @INDX@ where wrk puts each request's own values."""
    body = example_body(spec)
    body["msgid"] = "@MSGID@"
    body["input"][0]["hiImgIndx"] = "@INDX@"
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    assert text.index("@MSGID@") < text.index("@INDX@")
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


def probe_body(spec: dict[str, Any]) -> bytes:
    body = example_body(spec)
    body["msgid"] = PROBE_MSGID
    body["input"][0]["hiImgIndx"] = PROBE_INDEX
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def ecma_valid_spec_copy(spec: dict[str, Any], path: Path) -> list[str]:
    """A copy of the spec whose request schemas ajv (Prism's validator) can compile.

    Two constructs of spec/openapi.yaml make ajv throw, and Prism then skips body validation entirely:
      - patterns with `\\ ` (an escaped space, written by re.escape): valid in Python, an invalid escape in
        an ECMA-262 regular expression with the `u` flag, which ajv uses;
      - `nullable: true` without `type` (beside anyOf: age): ajv refuses "nullable" without "type".
    The copy writes the space unescaped and drops such a `nullable` (the example's age is 35).
    """
    spec = copy.deepcopy(spec)
    changes: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and "\\ " in pattern:
                node["pattern"] = pattern.replace("\\ ", " ")
                changes.append(f"{where}: pattern '\\ ' -> ' '")
            if node.get("nullable") is True and "type" not in node:
                del node["nullable"]
                changes.append(f"{where}: dropped nullable (no type)")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for position, value in enumerate(node):
                walk(value, f"{where}/{position}")

    walk(spec, "#")
    with path.open("w", encoding="utf-8") as handle:
        yaml.safe_dump(spec, handle, allow_unicode=True, sort_keys=False)
    return changes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole, workers included
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log.read_text(errors='replace')[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the group this script created for it
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cpu_seconds(self) -> float:
        """utime+stime of every live process of its session (the server and its workers)."""
        assert self.process is not None
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the ")": state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12)
            if int(fields[3]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK


def probe(port: int, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{PATH}", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    connections: int
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    not_success: int
    server_cpu_s: float
    wrk_cpu_s: float
    other_cpu_s: float
    non2xx_examples: str = ""
    socket_detail: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def run_wrk(
    wrk: str,
    lua: Path,
    server: Server,
    template: Path,
    run: int,
    connections: int,
    seconds: float,
    threads: int,
    path: str = PATH,
    extra: tuple[str, ...] = (),
) -> WrkResult:
    command = [
        wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
        "-s", str(lua), f"http://127.0.0.1:{server.port}{path}", "--", str(template), str(run), *extra,
    ]  # fmt: skip
    cpu_before = server.cpu_seconds()
    busy_before = machine_busy_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_after = machine_busy_seconds()
    cpu_after = server.cpu_seconds()
    lines = completed.stdout.splitlines()
    line = next((x for x in lines if x.startswith("BENCH ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    values = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    examples = next((x[len("BENCH-NON2XX ") :] for x in lines if x.startswith("BENCH-NON2XX ")), "")
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    return WrkResult(
        connections=connections,
        requests=values["requests"],
        duration_s=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        max_ms=values["max_us"] / 1000,
        non2xx=values["non2xx"],
        socket_errors=values["connect"] + values["read"] + values["write"] + values["timeout"],
        not_success=values["not_success"],
        server_cpu_s=cpu_after - cpu_before,
        wrk_cpu_s=wrk_cpu,
        other_cpu_s=max(0.0, (busy_after - busy_before) - (cpu_after - cpu_before) - wrk_cpu),
        non2xx_examples=examples,
        socket_detail=", ".join(f"{kind} {values[kind]}" for kind in ("connect", "read", "write", "timeout") if values[kind]),
    )


# ----------------------------------------------------------------------------------------------- a target


@dataclass
class TargetResult:
    name: str
    results: dict[int, WrkResult] = field(default_factory=dict)
    sent: int = 0  # every response wrk completed, warm-up included, plus the probe
    notes: list[str] = field(default_factory=list)


def run_target(
    name: str, server: Server, wrk: str, lua: Path, template: Path, probe_payload: bytes, args: argparse.Namespace
) -> TargetResult:
    result = TargetResult(name)
    startup = server.start()
    try:
        status, answer = probe(server.port, probe_payload)
        result.sent += 1
        print(f"  {name}: listening after {startup:.1f}s; probe -> HTTP {status} {answer[:160].strip()}", flush=True)
        if not 200 <= status < 300:
            result.notes.append(f"probe answered HTTP {status}: {answer[:300].strip()}")
        warm = run_wrk(wrk, lua, server, template, 1, 8, args.warmup, args.threads)
        result.sent += warm.requests
        print(f"  {name}: warm-up {args.warmup:g}s at 8 connections: {warm.rps:,.0f} req/s", flush=True)
        for run, connections in ((2, 1), (3, 8)):
            measured = run_wrk(wrk, lua, server, template, run, connections, args.duration, args.threads)
            result.sent += measured.requests
            result.results[connections] = measured
            print(
                f"  {name}: {connections} conn: {measured.rps:,.0f} req/s, p99 {measured.p99_ms:.1f} ms, "
                f"non-2xx {measured.non2xx}, server CPU {measured.server_cpu_s / measured.duration_s:.0%}, "
                f"wrk CPU {measured.wrk_cpu_s / measured.duration_s:.0%}, "
                f"other processes' CPU {measured.other_cpu_s / measured.duration_s:.0%}",
                flush=True,
            )
            if measured.socket_detail:
                result.notes.append(f"{connections} conn: wrk socket errors: {measured.socket_detail}")
            if measured.non2xx_examples:
                result.notes.append(f"{connections} conn, first answer of each kind: {measured.non2xx_examples[:600]}")
    finally:
        server.stop()
    return result


def mie_server(name: str, workdir: Path, port: int, workers: int) -> tuple[Server, Path]:
    data_dir = workdir / f"{name}-data"
    mie = shutil.which("mie") or str(Path(sys.executable).with_name("mie"))
    subprocess.run(
        [mie, "institution", "add", INSTITUTION, "--key", KEY, "--data-dir", str(data_dir)],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    command = [
        mie, "serve", "--http-port", str(port), "--data-dir", str(data_dir),
        "--no-access-log", "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip
    return Server(name, command, port, workdir / f"{name}.log"), data_dir


def count_rows(data_dir: Path) -> dict[str, int]:
    connection = sqlite3.connect(data_dir / "mie.sqlite3")
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
            for table in ("exam_record", "message", "setl_info", "exam_record_history")
            if table in tables
        }
    finally:
        connection.close()


def log_findings(log: Path) -> tuple[list[str], list[str]]:
    """Lines of a server log at WARNING or above (mie runs at --log-level warning), and the first traceback."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    findings = [line for line in lines if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
    first: list[str] = []
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            first = lines[max(0, number - 1) : number + 40]
            end = next((i for i, x in enumerate(first[2:], 2) if re.match(r"^\d{4}-\d\d-\d\d ", x)), len(first))
            first = first[:end]
            break
    return findings, first


# ------------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per (target, connections)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per target (8 connections)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: two cores, leave one to the server)")
    parser.add_argument(
        "--targets", default="starlette,prism,prism-validating,mie,mie-w2", help="comma-separated subset of targets"
    )
    parser.add_argument("--baseline", help="a checkout run as the target mie-baseline (first on its PYTHONPATH)")
    args = parser.parse_args()
    wanted = args.targets.split(",")
    if args.baseline and "mie-baseline" not in wanted:
        wanted.insert(wanted.index("mie") if "mie" in wanted else len(wanted), "mie-baseline")

    wrk = ensure_wrk()
    prism = ensure_prism() if any(t.startswith("prism") for t in wanted) else None
    spec = load_spec()
    began = time.monotonic()
    print(f"bench: {subprocess.run([wrk, '-v'], capture_output=True, text=True).stdout.splitlines()[0].strip()}")
    print(f"bench: mie code {code_state()}")
    before = machine_busy_seconds()
    time.sleep(1.0)
    background = machine_busy_seconds() - before
    print(f"bench: background load before the run: {background:.0%} of one core (of 200%)"
          + ("  WARNING: the machine is busy; figures will be noisy" if background > 0.25 else ""))  # fmt: skip
    print(f"bench: python {sys.version.split()[0]}, {os.cpu_count()} CPUs, wrk threads {args.threads}, "
          f"warm-up {args.warmup:g}s, {args.duration:g}s per measurement")  # fmt: skip

    results: list[TargetResult] = []
    extra: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mie-bench-") as tmp:
        workdir = Path(tmp)
        # private copies of the helpers, so that the run does not depend on the working tree staying put
        lua = Path(shutil.copy(LUA, workdir / LUA.name))
        starlette_dir = workdir / "starlette"
        starlette_dir.mkdir()
        shutil.copy(STARLETTE_APP, starlette_dir / STARLETTE_APP.name)
        template = workdir / "body.json"
        size = write_template(spec, template)
        payload = probe_body(spec)
        print(f"bench: body {size} bytes (the §2.1 example, one record), new msgid and hiImgIndx per request")

        for name in wanted:
            port = free_port()
            print(f"target {name}:", flush=True)
            if name == "starlette":
                command = [
                    sys.executable, "-m", "uvicorn", "bare_starlette:app", "--app-dir", str(starlette_dir),
                    "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
                ]  # fmt: skip
                server = Server(name, command, port, workdir / f"{name}.log")
                results.append(run_target(name, server, wrk, lua, template, payload, args))
            elif name in ("prism", "prism-validating"):
                assert prism is not None
                spec_path = SPEC
                if name == "prism-validating":
                    spec_path = workdir / "openapi-ecma.yaml"
                    changes = ecma_valid_spec_copy(spec, spec_path)
                    extra.append(f"prism-validating: spec copy with {len(changes)} change(s): " + "; ".join(changes))
                # -v warn: Prism logs several lines per request at its default level (info); mie runs with
                # --no-access-log --log-level warning, so Prism gets the same courtesy.
                command = [str(prism), "mock", str(spec_path), "-h", "127.0.0.1", "-p", str(port), "-v", "warn"]
                server = Server(name, command, port, workdir / f"{name}.log")
                results.append(run_target(name, server, wrk, lua, template, payload, args))
            elif name in ("mie", "mie-w2", "mie-baseline"):
                workers = 2 if name == "mie-w2" else 1
                own_path = os.environ.get("PYTHONPATH")
                if name == "mie-baseline":
                    if not args.baseline:
                        sys.exit("bench: the target mie-baseline needs --baseline DIR")
                    os.environ["PYTHONPATH"] = args.baseline  # for `mie institution add` and `mie serve`
                try:
                    server, data_dir = mie_server(name, workdir, port, workers)
                    target = run_target(name, server, wrk, lua, template, payload, args)
                finally:
                    if own_path is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = own_path
                rows = count_rows(data_dir)
                target.notes.append(
                    f"exam_record rows {rows.get('exam_record')} vs wrk responses {target.sent} (probe, warm-up and "
                    f"both measurements; wrk stops with up to one request in flight per connection, so rows may "
                    f"exceed responses by up to 17); message rows {rows.get('message')}, setl_info rows "
                    f"{rows.get('setl_info')}, exam_record_history rows {rows.get('exam_record_history')} "
                    f"(0 expected: every index is new)"
                )
                missing = target.sent - (rows.get("exam_record") or 0)
                if missing > 0:
                    target.notes.append(f"WARNING: {missing} answered requests left no exam_record row")
                findings, traceback = log_findings(server.log)
                target.notes.append(f"server log lines at WARNING or above: {len(findings)}")
                target.notes.extend(f"  log: {line[:300]}" for line in findings[:3])
                if traceback:
                    target.notes.append("first traceback in the server log:")
                    target.notes.extend(f"  | {line[:300]}" for line in traceback)
                results.append(target)
            else:
                sys.exit(f"bench: unknown target {name}")

    # ------------------------------------------------------------------------------------------ report
    print()
    print(f"{'target':<18} {'conn':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} "
          f"{'not ok':>7} {'sock err':>8} {'srv CPU':>8} {'srv CPU/req':>12} {'other CPU':>9}")  # fmt: skip
    for target in results:
        for connections, r in sorted(target.results.items()):
            per_request = r.server_cpu_s / r.requests * 1000 if r.requests else 0.0
            print(f"{target.name:<18} {connections:>4} {r.rps:>9,.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.max_ms:>8.1f} "
                  f"{r.non2xx:>8} {r.not_success:>7} {r.socket_errors:>8} {r.server_cpu_s / r.duration_s:>8.0%} "
                  f"{per_request:>9.3f} ms {r.other_cpu_s / r.duration_s:>9.0%}")  # fmt: skip
    print('  not ok: 2xx answers whose body does not hold succFlag "1"; srv CPU: server process(es) CPU / wall time;')
    print("  other CPU: CPU used meanwhile by every other process on the machine (noise; 200% = both cores)")

    by_name = {target.name: target for target in results}
    print()
    print("ratios (requests/s; p99 as mie's p99 / baseline's p99):")
    for mie_name in ("mie-baseline", "mie", "mie-w2"):
        for base in ("prism-validating", "prism", "starlette"):
            if mie_name not in by_name or base not in by_name:
                continue
            for connections in (1, 8):
                m, b = by_name[mie_name].results.get(connections), by_name[base].results.get(connections)
                if m and b and b.rps and b.p99_ms:
                    print(f"  {mie_name:>12} / {base:<17} {connections} conn: throughput x{m.rps / b.rps:.2f}, "
                          f"p99 x{m.p99_ms / b.p99_ms:.2f}")  # fmt: skip
    if "mie" in by_name and "mie-baseline" in by_name:
        for connections in (1, 8):
            before, after = by_name["mie-baseline"].results.get(connections), by_name["mie"].results.get(connections)
            if before and after and before.rps:
                print(f"  mie / mie-baseline       {connections} conn: throughput x{after.rps / before.rps:.2f}")
    if "mie" in by_name and "mie-w2" in by_name:
        for connections in (1, 8):
            one, two = by_name["mie"].results.get(connections), by_name["mie-w2"].results.get(connections)
            if one and two and one.rps:
                print(f"  mie-w2 / mie               {connections} conn: throughput x{two.rps / one.rps:.2f}")

    print()
    for line in extra:
        print(line)
    for target in results:
        for note in target.notes:
            print(f"{target.name}: {note}")
    print(f"bench: total {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
