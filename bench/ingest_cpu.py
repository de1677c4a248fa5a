"""In-process harness: the CPU of the ingest service per instance, this checkout beside another, over the same files.

§2.2, C-STORE and STOW-RS all end in `ingest.ingest_instance` (read the header, build the DICOMweb entry, the
group commit with the row, the entry and the file). This harness times that call alone, without HTTP or DICOM:
`time.process_time` around each call (every thread of the process: the group commit's too), the files spooled
beforehand as §2.2's upload spools them (`open_spool(keep_head=HEADER_PREFIX)`, written, fsynced) and checked as
§2.2 checks them (a claim naming the registered exam and study, the form's MD5). Within that, the time in the
header's reading and the DICOMweb entry (`read_header`, `read_spooled` where it exists, and `index_entry`, as
ingest calls them) is timed too.

Each version runs in a child process of its own (a fresh data directory, SQLite, the institution, the §2.1 example's
exam and the study registered through the ASGI app in-process), with its checkout first on PYTHONPATH; the versions
alternate (before, after, before, after...) over the same corpus (bench/cstore_ingest.py's small or real one).

Run:  PYTHONPATH=$PWD .venv/bin/python bench/ingest_cpu.py --baseline /tmp/before [--corpus small] [--instances 500]
      [--rounds 2]   (/tmp/before: `git archive <commit> | tar -x -C /tmp/before`)
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def child(files: list[Path], study_uid: str, data_dir: Path) -> dict[str, Any]:
    """Ingest `files` into a new processor at `data_dir`, with whatever `mie` is first on the path."""
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    sys.path.insert(0, str(BENCH))
    if str(ROOT) not in sys.path:  # appended: the PYTHONPATH's checkout keeps its place before this one
        sys.path.append(str(ROOT))
    import cstore_ingest as bench
    from starlette.testclient import TestClient

    import mie
    import mie.service.ingest as ingest
    from mie.config import Settings
    from mie.runtime import Runtime
    from mie.service.institutions import add_institution
    from mie.web.app import create_app

    runtime = Runtime.open(Settings(data_dir=data_dir))
    add_institution(runtime.database, bench.INSTITUTION, bench.KEY, ae_title=bench.CALLING_AE)
    client = TestClient(create_app(runtime))
    exam = bench.example_body(bench.load_spec())
    exam["msgid"] = bench.new_msgid()
    answer = client.post(bench.SAVE_EXAM, json=exam).json()
    assert answer["code"] == 0, answer
    hi_img_indx = exam["input"][0]["hiImgIndx"]
    info = {
        "infno": "saveImgInfo", "msgid": bench.new_msgid(), "infTime": "2025-11-11 10:10:00",
        "infCode": bench.INSTITUTION, "key": bench.KEY,
        "input": [{"hiImgIndx": hi_img_indx, "studyUid": study_uid, "accessionNumber": bench.ACCESSION,
                   "imageTotalNum": len(files)}],
    }  # fmt: skip
    answer = client.post(bench.SAVE_IMG_INFO, json=info).json()
    assert answer["code"] == 0, answer

    header_seconds = [0.0]

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                header_seconds[0] += time.process_time() - began

        return wrapper

    # as ingest_instance calls them (by its module's names); read_spooled calls read_header only for what its
    # walk does not follow, so the two are timed apart from each other, never nested
    for name in ("read_spooled", "index_entry") if hasattr(ingest, "read_spooled") else ("read_header", "index_entry"):
        setattr(ingest, name, timed(getattr(ingest, name)))

    claim = ingest.Claim(
        hi_img_indx, study_uid, bench.ACCESSION, len(files), index_key=runtime.contract.index.canonical(hi_img_indx)
    )
    ingest_seconds = 0.0
    stored = 0
    for path in files:
        data = path.read_bytes()
        writer = runtime.store.open_spool(keep_head=ingest.HEADER_PREFIX)
        writer.write(data)
        spooled = writer.finish(keep=True)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        began = time.process_time()
        ingested = ingest.ingest_instance(
            runtime.database, runtime.store, spooled, institution=bench.INSTITUTION, source="http", claim=claim,
            expected_md5=md5,
        )  # fmt: skip
        ingest_seconds += time.process_time() - began
        stored += not ingested.duplicate
    runtime.database.dispose()
    return {
        "mie": str(Path(mie.__file__).parent),
        "stored": stored,
        "ingest_ms": ingest_seconds * 1000 / len(files),
        "header_ms": header_seconds[0] * 1000 / len(files),
    }


def run_child(checkout: Path, files: Path, study_uid: str, base: Path) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(dir=base))
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout), str(BENCH)])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(files), "--study", study_uid, "--data-dir", str(data_dir)],
        env=environment, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a checkout of the code before (first on the 'before' child's PYTHONPATH)")
    parser.add_argument("--corpus", default="small", choices=["small", "real"])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two versions")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--study", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        files = [Path(line) for line in Path(args.child).read_text().splitlines()]
        print(json.dumps(child(files, args.study, Path(args.data_dir))))
        return 0

    sys.path.insert(0, str(BENCH))
    import cstore_ingest as bench
    from pydicom.uid import generate_uid

    versions = [("before", Path(args.baseline).resolve())] if args.baseline else []
    versions.append(("after", ROOT))
    with tempfile.TemporaryDirectory(prefix="mie-ingest-cpu-") as temporary:
        base = Path(temporary)
        study_uid = generate_uid()
        corpus = bench.build_corpus(args.corpus, base / "corpus", args.instances, study_uid)
        listing = base / "files.txt"
        listing.write_text("\n".join(str(path) for path in corpus.files))
        print(f"corpus {args.corpus}: {len(corpus.files)} files, {corpus.mix}; load average {os.getloadavg()[0]:.1f}")
        results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in versions}
        for round_number in range(args.rounds):
            for label, checkout in versions:
                result = run_child(checkout, listing, study_uid, base)
                assert result["stored"] == len(corpus.files), result
                results[label].append(result)
                print(
                    f"round {round_number + 1} {label:6} ({result['mie']}): ingest_instance {result['ingest_ms']:.3f} ms,"
                    f" of which header and DICOMweb entry {result['header_ms']:.3f} ms per instance"
                )
        print(f"load average {os.getloadavg()[0]:.1f}")
        medians = {
            label: {key: statistics.median(run[key] for run in runs) for key in ("ingest_ms", "header_ms")}
            for label, runs in results.items()
        }
        for label, figures in medians.items():
            print(
                f"median {label:6}: ingest_instance {figures['ingest_ms']:.3f} ms,"
                f" header and entry {figures['header_ms']:.3f} ms"
            )
        if "before" in medians:
            print(
                f"after / before: ingest_instance x{medians['after']['ingest_ms'] / medians['before']['ingest_ms']:.2f},"
                f" header and entry x{medians['after']['header_ms'] / medians['before']['header_ms']:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
