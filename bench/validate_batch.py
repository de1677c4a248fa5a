"""Benchmark: `mie validate` on a batch of §2.1 (saveExamRpotImgInfo) files, against jsonschema on the same batch.

A batch of --files request files of --per-file records each (100,000 records by default) is generated from the
document's own §2.1 example (spec/openapi.yaml), with varied valid values (dictionary codes drawn from the
spec's enums, dates, identity numbers and indexes made consistent with each other, optional fields empty, null
or left out) and a few percent of records broken in one field each (missing, too long, outside its
dictionary, wrong date format, index against certno), plus a few that only carry warnings or information.

Then, each pinned to one core (`taskset -c 0`) in its own process, end to end (start-up included):
  - mie: `mie validate DIR --quiet` (the real CLI path: files found, read, parsed, envelope, each record by
    `check_exam_record`, the text report);
  - jsonschema (the declared test dependency; Draft4Validator, as connexion uses): every file read and
    parsed, its request body validated against the spec's request schema (`SaveExamRpotImgInfoRequest`,
    $refs inlined) with every error collected (`iter_errors`), as mie collects them.

Printed: records/s of each, by wall time and by CPU time of the process, and mie / jsonschema.
--jsonschema-files N times jsonschema on the first N files only (its rate is per record, so the ratio
holds; the full batch takes jsonschema about 2 minutes on a quiet machine).

Run:  .venv/bin/python bench/validate_batch.py       (about 3 minutes)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_save_exam import code_state  # noqa: E402  (the benchmarks' one report of the code's state)

ROOT = Path(__file__).resolve().parent.parent
PATH = "/mie/api/mie/saveExamRpotImgInfo"
TOTALS = re.compile(r"共 (\d+) 个文件: (\d+) 个符合规范, (\d+) 个不符合 \((\d+) 个错误, (\d+) 个警告, (\d+) 个提示\)")


# --- the batch ----------------------------------------------------------------------------------------------------


def _example() -> dict[str, Any]:
    from mie.contract import current

    operation = current().document["paths"][PATH]["post"]
    return copy.deepcopy(operation["requestBody"]["content"]["application/json"]["example"])


def _codes(schema: dict[str, Any]) -> list[str]:
    """The codes a dictionary field takes, from the spec: its enum, or the alternatives of its pattern."""
    from mie.contract import current
    from mie.contract.dictionaries import allowed_codes

    return [code for code in allowed_codes(schema, current().dictionaries) if code]


def _certno(rng: random.Random) -> str:
    """An 18-character identity number (the check character is not checked by the spec; X sometimes)."""
    body = f"{rng.randrange(110000, 660000)}{rng.randrange(1940, 2020)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    return body + f"{rng.randrange(1000):03d}" + rng.choice("0123456789X")


class Batch:
    """Records of §2.1 made from the document's example, their fields varied within the spec's rules."""

    def __init__(self, seed: int) -> None:
        from mie.contract import current

        component = current().component
        self.rng = random.Random(seed)
        self.example = _example()
        self.template: dict[str, Any] = self.example["input"][0]
        properties = component("ExamRpotImgInfo")["properties"]
        self.properties = properties
        self.required = set(component("ExamRpotImgInfo")["required"])
        self.codes = {name: _codes(p) for name, p in properties.items() if "x-dictionary" in p}
        setl = properties["setlInfoList"]["items"]["properties"]
        self.setl_parts = _codes(setl["examPart"])
        self.optional = [name for name in properties if name not in self.required]

    def record(self, number: int) -> dict[str, Any]:
        rng = self.rng
        record = copy.deepcopy(self.template)
        certno = _certno(rng)
        exam_day = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        exam_time = datetime(exam_day.year, exam_day.month, exam_day.day, rng.randrange(24), rng.randrange(60), rng.randrange(60))
        cert_type = "111"
        record["hiImgIndx"] = f"{cert_type}-{certno}-{exam_time:%Y%m%d%H%M%S}-0000000000000-000000000" + (
            "-123502004266007980" if rng.random() < 0.5 else ""
        )
        record["psnCertType"] = cert_type
        record["certno"] = certno.lower() if rng.random() < 0.05 else certno  # 003x and 003X are the same person
        record["psnName"] = rng.choice(["李丽", "王伟", "张敏", "刘洋", "陈静", "杨帆", "赵磊"]) + str(number % 10)
        for name, codes in self.codes.items():
            if name in ("psnCertType", "examPart"):
                continue
            if self.properties[name].get("x-separator"):
                record[name] = " ".join(sorted(set(rng.sample(codes, k=min(len(codes), rng.randrange(1, 3))))))
            else:
                record[name] = rng.choice(codes)
        record["examPart"] = rng.choice(["000000000", "0", *rng.sample(self.codes["examPart"], 3)])
        record["examDate"] = exam_day.isoformat()
        record["brdy"] = f"{certno[6:10]}-{certno[10:12]}-{certno[12:14]}"
        record["age"] = rng.choice([exam_day.year - int(certno[6:10]), f"{rng.randrange(1, 99)}.{rng.randrange(10)}", 35.5, ""])
        record["examCharge"] = rng.choice([f"{rng.randrange(10, 5000)}.{rng.randrange(100):02d}", rng.randrange(10, 5000), 240.5])
        for name in ("appyDate", "rptDate", "chkDate", "sdryChkDate", "rpotPubDate", "setlDate"):
            record[name] = f"{exam_day.isoformat()} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"
        record["studyUid"] = f"1.2.156.112605.{rng.randrange(10**12)}.{exam_time:%Y%m%d%H%M%S}.{number}"
        record["accessionNumber"] = str(rng.randrange(10**9))
        record["rpotNo"] = f"R{number:09d}"
        record["patientId"] = f"{number:06d}"
        record["setlInfoList"] = [
            {
                "setlId": str(rng.randrange(10**7)),
                "medListCodg": str(rng.randrange(10**7)),
                "feedetlSn": str(rng.randrange(10**9)),
                "examPart": rng.choice(["000000000", *rng.sample(self.setl_parts, 2)]),
            }
            for _ in range(rng.randrange(1, 4))
        ]
        for name in rng.sample(self.optional, 6):  # optional fields empty, null or left out, as senders do
            if name in ("setlInfoList",):
                continue
            choice = rng.random()
            if choice < 0.4:
                record[name] = ""
            elif choice < 0.7:
                record[name] = None
            else:
                record.pop(name, None)
        return record

    def broken(self, record: dict[str, Any]) -> str:
        """Break one field of the record (an error), or give it a warning or information only; says which."""
        rng = self.rng
        kind = rng.choice(["missing", "too long", "dictionary", "date", "index", "warning", "information"])
        if kind == "missing":
            name = rng.choice(sorted(self.required))
            record.pop(name, None)
        elif kind == "too long":
            name = rng.choice([n for n, p in self.properties.items() if p.get("maxLength") and p.get("type") == "string"])
            record[name] = "9" * (self.properties[name]["maxLength"] + 1)
        elif kind == "dictionary":
            record["gend"] = "7"
        elif kind == "date":
            record["examDate"] = record["examDate"].replace("-", "/")
        elif kind == "index":
            record["certno"] = _certno(rng)
        elif kind == "warning":
            record["setlInfoList"][0]["examPart"] = "B99999999"  # the shape of a code, not a listed one
        else:
            record["rpotNo"] = "R1,R2"  # several reports
        return kind


def generate(directory: Path, files: int, per_file: int, broken_share: float, seed: int) -> dict[str, int]:
    """Write the batch; returns how many records of each kind it holds."""
    batch = Batch(seed)
    counts: dict[str, int] = {"records": 0}
    number = 0
    for file_number in range(files):
        body = copy.deepcopy(batch.example)
        body["msgid"] = f"H11010202321{datetime(2025, 3, 1) + timedelta(seconds=file_number):%Y%m%d%H%M%S}0001"
        records = []
        for _ in range(per_file):
            number += 1
            record = batch.record(number)
            if batch.rng.random() < broken_share:
                kind = batch.broken(record)
                counts[kind] = counts.get(kind, 0) + 1
            records.append(record)
        body["input"] = records
        counts["records"] += len(records)
        (directory / f"exam_{file_number:05d}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return counts


# --- jsonschema, in its own process ------------------------------------------------------------------------------


def jsonschema_worker(directory: Path, limit: int | None) -> int:
    """Validate the batch's files with jsonschema, as mie validate reads them; prints one JSON line of counts."""
    from jsonschema import Draft4Validator

    from mie.contract import current

    schema = current().component("SaveExamRpotImgInfoRequest")
    validator = Draft4Validator(schema)
    paths = sorted(directory.glob("*.json"))[:limit]
    records = files_with_errors = errors = 0
    for path in paths:
        body = json.loads(path.read_bytes().decode("utf-8-sig"))
        found = list(validator.iter_errors(body))
        records += len(body.get("input", []))
        errors += len(found)
        files_with_errors += bool(found)
    print(json.dumps({"files": len(paths), "records": records, "errors": errors, "invalid files": files_with_errors}))
    return 0


# --- timing -------------------------------------------------------------------------------------------------------


def timed(command: list[str], output: Path) -> tuple[float, float, int]:
    """Run a command pinned to one core; wall seconds, CPU seconds (user + system) and exit status."""
    pinned = (["taskset", "-c", "0"] if shutil.which("taskset") else []) + command
    started = time.perf_counter()
    with output.open("wb") as stream:
        process = subprocess.Popen(pinned, stdout=stream, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, process.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="request files in the batch")
    parser.add_argument("--per-file", type=int, default=100, help="records per file")
    parser.add_argument("--broken", type=float, default=0.04, help="share of records broken or given a finding")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--repeat", type=int, default=2, help="runs of mie (the best is kept)")
    parser.add_argument("--jsonschema-files", type=int, default=None, help="time jsonschema on the first N files only")
    parser.add_argument("--keep", metavar="DIR", help="write the batch (and mie's report) here and keep it")
    parser.add_argument("--jsonschema-worker", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.jsonschema_worker:
        return jsonschema_worker(Path(args.jsonschema_worker), args.limit)

    from importlib.metadata import version

    print(f"bench: mie code {code_state()}; jsonschema {version('jsonschema')}; python {sys.version.split()[0]}")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mie-validate-batch-"))
    batch_dir = work / "batch"
    batch_dir.mkdir(parents=True, exist_ok=True)
    for old in batch_dir.glob("*.json"):
        old.unlink()
    started = time.perf_counter()
    counts = generate(batch_dir, args.files, args.per_file, args.broken, args.seed)
    size = sum(path.stat().st_size for path in batch_dir.glob("*.json"))
    records = counts.pop("records")
    print(f"batch: {args.files} files, {records:,} records, {size / 1e6:.1f} MB, in {time.perf_counter() - started:.1f} s; "
          f"changed records: {', '.join(f'{n} {kind}' for kind, n in sorted(counts.items()))}")  # fmt: skip

    try:
        venv_mie = ROOT / ".venv" / "bin" / "mie"
        mie = [str(venv_mie)] if venv_mie.exists() else [sys.executable, "-m", "mie.cli"]
        best: tuple[float, float] | None = None
        report = work / "mie-report.txt"
        for run in range(args.repeat):
            wall, cpu, status = timed([*mie, "validate", str(batch_dir), "--quiet"], report)
            lines = report.read_text(encoding="utf-8").splitlines()
            totals = TOTALS.search(lines[-1]) if lines else None
            if status not in (0, 1) or totals is None:
                print(f"mie validate failed (exit {status}):\n" + "\n".join(lines[-20:]))
                return 1
            print(f"mie run {run + 1}: {wall:.2f} s wall, {cpu:.2f} s CPU, exit {status}; {lines[-1]}")
            best = (wall, cpu) if best is None or wall < best[0] else best
        assert best is not None

        limit = args.jsonschema_files
        worker = [sys.executable, str(Path(__file__).resolve()), "--jsonschema-worker", str(batch_dir)]
        if limit:
            worker += ["--limit", str(limit)]
        js_out = work / "jsonschema.txt"
        js_wall, js_cpu, status = timed(worker, js_out)
        text = js_out.read_text(encoding="utf-8").strip()
        if status != 0:
            print(f"jsonschema worker failed (exit {status}):\n{text[-2000:]}")
            return 1
        js = json.loads(text.splitlines()[-1])
        print(f"jsonschema run: {js_wall:.2f} s wall, {js_cpu:.2f} s CPU; {js}")

        mie_wall, mie_cpu = records / best[0], records / best[1]
        js_wall_rate, js_cpu_rate = js["records"] / js_wall, js["records"] / js_cpu
        print()
        print(f"{'':<28} {'records/s (wall)':>17} {'records/s (CPU)':>16} {'us/record (CPU)':>16}")
        print(f"{'mie validate (best run)':<28} {mie_wall:>17,.0f} {mie_cpu:>16,.0f} {1e6 / mie_cpu:>16.1f}")
        print(f"{'jsonschema Draft4Validator':<28} {js_wall_rate:>17,.0f} {js_cpu_rate:>16,.0f} {1e6 / js_cpu_rate:>16.1f}")
        print(f"ratio mie / jsonschema: x{mie_wall / js_wall_rate:.1f} (wall), x{mie_cpu / js_cpu_rate:.1f} (CPU)")
        goal = "reached" if mie_wall >= 20_000 and mie_wall / js_wall_rate >= 15 else "not reached"
        print(f"goal (>= 20,000 records/s and >= x15 jsonschema, wall, one core): {goal}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
