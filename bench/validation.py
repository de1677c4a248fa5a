"""Benchmark: validation alone of one §2.1 record (the example's input[0]), in records/s.

mie's validator compiled from the spec (`mie.contract.validation.Validator`) against plain `jsonschema`
on the same resolved schema (`CONTRACT.component("ExamRpotImgInfo")`, $refs inlined):
  - Draft4Validator (what connexion uses for request bodies), all errors collected (`iter_errors`);
  - Draft202012Validator, the same way.
Also mie's full per-record check, `mie.contract.records.check_exam_record` (validation plus the hiImgIndx
parse and its consistency with psnCertType, certno and examDate).
Extra, when importable: jsonschema_rs (Rust) Draft4Validator on the same schema.

Two records: the valid example, and the example with 3 errors (gend not in its dictionary, examDate not a
date, psnName missing). Every validator must find 0 errors in the first and 3 in the second before it is
timed. Timing: time.perf_counter loops of --seconds each, best of --repeat; ratios against jsonschema.

Run:  .venv/bin/python bench/validation.py        (about 1.5 minutes)
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator

from mie.contract import current
from mie.contract.records import check_exam_record

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_save_exam import code_state  # noqa: E402  (the benchmarks' one report of the code's state)

CONTRACT = current()

PATH = "/mie/api/mie/saveExamRpotImgInfo"
ROOT = Path(__file__).resolve().parent.parent


def example_record() -> dict[str, Any]:
    operation = CONTRACT.document["paths"][PATH]["post"]
    return copy.deepcopy(operation["requestBody"]["content"]["application/json"]["example"]["input"][0])


def broken_record(record: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(record)
    broken["gend"] = "7"  # not in the gend dictionary (enum)
    broken["examDate"] = "2023/04/02"  # not yyyy-MM-dd (pattern)
    del broken["psnName"]  # required
    return broken


def openapi_nullable_to_json_schema(node: Any, changes: list[str], where: str = "#") -> Any:
    """Only used if jsonschema rejects the valid example: OpenAPI `nullable` made JSON Schema (type + null)."""
    if isinstance(node, dict):
        node = {key: openapi_nullable_to_json_schema(value, changes, f"{where}/{key}") for key, value in node.items()}
        if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            changes.append(where)
        return node
    if isinstance(node, list):
        return [openapi_nullable_to_json_schema(value, changes, f"{where}/{i}") for i, value in enumerate(node)]
    return node


def rate(function: Callable[[], Any], seconds: float, repeat: int) -> float:
    """Best of `repeat` loops of about `seconds` each: calls per second."""
    batch, started = 1, time.perf_counter()  # a batch of about 50 ms, so perf_counter is read rarely
    while True:
        for _ in range(batch):
            function()
        if time.perf_counter() - started > 0.05:
            break
        batch *= 2
    best = 0.0
    for _ in range(repeat):
        calls, started = 0, time.perf_counter()
        while True:
            for _ in range(batch):
                function()
            calls += batch
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                break
        best = max(best, calls / elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per timing loop")
    parser.add_argument("--repeat", type=int, default=3, help="loops per case (the best is kept)")
    args = parser.parse_args()

    schema = CONTRACT.component("ExamRpotImgInfo")
    valid = example_record()
    broken = broken_record(valid)
    print(f"bench: mie code {code_state()}")
    print(f"bench: python {platform.python_version()}, jsonschema {version('jsonschema')}, "
          f"{args.repeat} x {args.seconds:g}s per case, best kept")  # fmt: skip

    mie_validator = CONTRACT.validator_of(schema)
    js_schema: dict[str, Any] = schema
    draft4, draft2020 = Draft4Validator(js_schema), Draft202012Validator(js_schema)
    rejected = False
    for name, validator in (("Draft4Validator", draft4), ("Draft202012Validator", draft2020)):
        errors = list(validator.iter_errors(valid))
        if errors:
            rejected = True
            print(f"jsonschema {name} finds {len(errors)} error(s) in the valid example:")
            for error in errors:
                print(f"  {list(error.path)}: {error.message[:200]}")
    if rejected:
        changes: list[str] = []
        js_schema = openapi_nullable_to_json_schema(schema, changes)
        print(f"bench: jsonschema gets a copy with OpenAPI `nullable` turned into JSON Schema at {len(changes)} places")
        draft4, draft2020 = Draft4Validator(js_schema), Draft202012Validator(js_schema)
    else:
        print("bench: jsonschema gets the schema unchanged (it ignores OpenAPI's `nullable`; no field of the example is null)")

    cases: list[tuple[str, Callable[[dict[str, Any]], int]]] = [
        ("mie Validator.validate", lambda record: len(mie_validator.validate(record).errors)),
        ("jsonschema Draft4Validator", lambda record: len(list(draft4.iter_errors(record)))),
        ("jsonschema Draft202012Validator", lambda record: len(list(draft2020.iter_errors(record)))),
        ("mie check_exam_record (full)", lambda record: len(check_exam_record(CONTRACT, record).errors)),
    ]
    try:  # extra, when the venv has it (it comes with the test tools, not with mie): a validator in Rust
        import jsonschema_rs

        rs4 = jsonschema_rs.Draft4Validator(js_schema)
        cases.append(("jsonschema_rs Draft4Validator", lambda record: sum(1 for _ in rs4.iter_errors(record))))
    except ImportError:
        pass

    # the same verdicts before anything is timed
    for name, count in cases:
        found_valid, found_broken = count(valid), count(broken)
        print(f"check: {name}: {found_valid} error(s) in the example, {found_broken} in the broken record")
        assert found_valid == 0, f"{name} finds errors in the valid example"
        assert found_broken == 3, f"{name} finds {found_broken} errors in the 3-error record, not 3"
    print("check: mie's 3 errors:", "; ".join(str(e) for e in mie_validator.validate(broken).errors))
    print("check: jsonschema's 3 errors:", "; ".join(e.message[:80] for e in draft4.iter_errors(broken)))

    results: dict[tuple[str, str], float] = {}
    for record_name, record in (("valid", valid), ("3 errors", broken)):
        for name, count in cases:
            results[(name, record_name)] = rate(lambda c=count, r=record: c(r), args.seconds, args.repeat)
            print(f"  {name:<34} {record_name:<9} {results[(name, record_name)]:>10,.0f} records/s", flush=True)

    print()
    print(f"{'validator':<34} {'valid rec/s':>12} {'us/rec':>8} {'3-error rec/s':>14} {'us/rec':>8}")
    for name, _ in cases:
        ok, bad = results[(name, "valid")], results[(name, "3 errors")]
        print(f"{name:<34} {ok:>12,.0f} {1e6 / ok:>8.1f} {bad:>14,.0f} {1e6 / bad:>8.1f}")
    print()
    print("ratios (records/s):")
    for record_name in ("valid", "3 errors"):
        mie = results[("mie Validator.validate", record_name)]
        for base in ("jsonschema Draft4Validator", "jsonschema Draft202012Validator"):
            print(f"  mie Validator / {base:<38} {record_name:<9} x{mie / results[(base, record_name)]:.2f}")
        full = results[("mie check_exam_record (full)", record_name)]
        draft4_rate = results[("jsonschema Draft4Validator", record_name)]
        print(f"  mie check_exam_record / jsonschema Draft4Validator     {record_name:<9} x{full / draft4_rate:.2f}")
        if ("jsonschema_rs Draft4Validator", record_name) in results:
            rust = results[("jsonschema_rs Draft4Validator", record_name)]
            print(f"  mie Validator / jsonschema_rs Draft4Validator (extra)  {record_name:<9} x{mie / rust:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
