"""Benchmark: DICOMweb on a 500-instance CT series: series metadata (cold and warm, gzip and not), QIDO, frames.

A `mie serve` (SQLite unless --database-url) is given an exam and a CT series of N slices of 512x512
(uncompressed, about 0.5 MB each, sent by §2.2 saveImgFile, untimed). Then, with HTTP Basic as the institution,
over one keep-alive connection:

  metadata cold   the first GET .../series/{series}/metadata after the server started (built from the stored
                  metadata of every instance, gzipped, cached)
  metadata warm   the median of the next --repeats requests, with Accept-Encoding: gzip (as browsers and OHIF
                  send it) and without
  QIDO            GET /studies?StudyInstanceUID=..., GET /studies/{study}/series: medians
  frames          GET .../frames/1 of every instance in turn, transfer-syntax=* (as OHIF asks): per frame
  retrieve        GET .../instances/{sop} (multipart/related application/dicom) of every instance: per instance

Run:  .venv/bin/python bench/dicomweb_metadata.py                 (about 1-2 minutes)
      .venv/bin/python bench/dicomweb_metadata.py --slices 100    (quick look)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from page_first_image import big_ct_series  # noqa: E402

from tests.conftest import INSTITUTION, KEY  # noqa: E402
from tests.page_data import store_exam, store_instance  # noqa: E402
from tests.test_cli import free_port  # noqa: E402
from tests.test_crash import start_server  # noqa: E402


def timed(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = client.get(url, headers=headers or {})
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
    return elapsed * 1000, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mie-dicomweb-bench-") as temporary:
        data_dir = Path(temporary) / "data"
        database_url = args.database_url or f"sqlite:///{Path(temporary) / 'bench.sqlite3'}"
        subprocess.run(
            [sys.executable, "-m", "mie.cli", "institution", "add", INSTITUTION, "--key", KEY, "--data-dir", str(data_dir)]
            + ["--database-url", database_url],
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = start_server(data_dir, database_url, port, 0)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=120) as client:
                exam = store_exam(client)
                files = big_ct_series(exam.record["studyUid"], args.slices)
                for data in files:
                    store_instance(client, exam, data, len(files))
            size = statistics.mean(map(len, files)) / 1e6
            print(f"load average before: {os.getloadavg()[0]:.2f}; {len(files)} slices of {size:.2f} MB")
            study = exam.record["studyUid"]
            with httpx.Client(base_url=f"{base}/dicom-web", timeout=120, auth=(INSTITUTION, KEY)) as client:
                series = timed(client, f"/studies/{study}/series")[1].json()[0]["0020000E"]["Value"][0]
                url = f"/studies/{study}/series/{series}/metadata"
                cold, answer = timed(client, url, {"Accept-Encoding": "gzip"})
                instances = [item["00080018"]["Value"][0] for item in answer.json()]
                print(
                    f"series metadata, {len(instances)} instances: cold {cold:.0f} ms ({len(answer.content) / 1e6:.2f} MB JSON)"
                )
                for encoding in ("gzip", "identity"):
                    times = [timed(client, url, {"Accept-Encoding": encoding})[0] for _ in range(args.repeats)]
                    print(
                        f"series metadata warm, Accept-Encoding {encoding}: median {statistics.median(times):.1f} ms, "
                        f"slowest {max(times):.1f} ms"
                    )
                for label, query in (
                    ("QIDO studies by UID", f"/studies?StudyInstanceUID={study}"),
                    ("QIDO series", f"/studies/{study}/series"),
                ):
                    times = [timed(client, query)[0] for _ in range(args.repeats)]
                    print(f"{label}: median {statistics.median(times):.1f} ms")
                accept = {"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'}
                started = time.perf_counter()
                for sop in instances:
                    timed(client, f"/studies/{study}/series/{series}/instances/{sop}/frames/1", accept)
                per_frame = (time.perf_counter() - started) / len(instances) * 1000
                print(f"frames, one client: {per_frame:.1f} ms per frame ({1000 / per_frame:.0f} frames/s)")
                accept = {"Accept": 'multipart/related; type="application/dicom"'}
                started = time.perf_counter()
                for sop in instances:
                    timed(client, f"/studies/{study}/series/{series}/instances/{sop}", accept)
                per_instance = (time.perf_counter() - started) / len(instances) * 1000
                print(
                    f"instance retrieve, one client: {per_instance:.1f} ms per instance ({1000 / per_instance:.0f} instances/s)"
                )
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
