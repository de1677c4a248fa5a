"""Benchmark: the wall time of `mie conformance URL --max-examples 20` against a fresh `mie serve` (SQLite).

Each round starts its own `mie serve` (its own data directory, two institutions registered), runs the whole
conformance command as a subprocess and times it end to end (start-up, preflight, every phase, the report): its
wall time, and the CPU time of the conformance process alone (user + system; on a machine shared with other work
the wall time swings far more than the CPU time does).
With --baseline DIR (a checkout or an unpacked `git archive` of an earlier commit), rounds alternate between
that code and this checkout (baseline, this, baseline, this, ...) so that both see the same machine load, and
the ratio this / baseline of the median wall times is printed.

Run:  .venv/bin/python bench/conformance_run.py --baseline /tmp/mie-before --rounds 3     (about 3 min a round pair)
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTITUTIONS = (("H11010202321", "DFDK045DSF1DSF55DS"), ("H52030200193", "another-key-52"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_round(code: Path, examples: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of one conformance run with the code at `code` (server and client alike), and its exit
    code."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    mie = [sys.executable, "-m", "mie.cli"]
    with tempfile.TemporaryDirectory(prefix="mie-bench-conformance-") as scratch:
        data = Path(scratch)
        for code_, key in INSTITUTIONS:
            subprocess.run([*mie, "institution", "add", code_, "--key", key, "--data-dir", str(data)], env=env, check=True,
                           capture_output=True)
        port = free_port()
        log = (data / "server.log").open("w")
        server = subprocess.Popen(
            [*mie, "serve", "--http-port", str(port), "--dicom-port", "0", "--data-dir", str(data), "--log-level", "warning",
             "--no-access-log"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            command = [*mie, "conformance", f"http://127.0.0.1:{port}", "--max-examples", str(examples), "--seed", "0"]
            for code_, key in INSTITUTIONS:
                command += ["--institution", code_, "--key", key]
            started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server is not reaped yet: this run alone
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            return time.monotonic() - started, cpu, result.returncode
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the earlier code to compare with (a checkout's root)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-examples", type=int, default=20)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {args.rounds} round(s), --max-examples {args.max_examples}")
    sides = [("baseline", args.baseline), ("this", ROOT)] if args.baseline else [("this", ROOT)]
    wall: dict[str, list[float]] = {name: [] for name, _ in sides}
    cpu: dict[str, list[float]] = {name: [] for name, _ in sides}
    for number in range(args.rounds):
        for name, code in sides:
            seconds, used, exit_code = one_round(code, args.max_examples)
            wall[name].append(seconds)
            cpu[name].append(used)
            print(
                f"round {number + 1} {name}: {seconds:.1f} s wall, {used:.1f} s CPU, exit {exit_code}, "
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    for name in wall:
        print(
            f"{name}: median {statistics.median(wall[name]):.1f} s wall ({', '.join(f'{v:.1f}' for v in wall[name])}), "
            f"{statistics.median(cpu[name]):.1f} s CPU ({', '.join(f'{v:.1f}' for v in cpu[name])})"
        )
    if args.baseline:
        for kind, values in (("wall", wall), ("CPU", cpu)):
            ratio = statistics.median(values["this"]) / statistics.median(values["baseline"])
            print(f"this / baseline, {kind}: {ratio:.2f}")


if __name__ == "__main__":
    main()
