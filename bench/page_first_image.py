"""Benchmark: the image page of a 500-slice CT series, time until the first image is on screen in Chromium.

A `mie serve` (SQLite unless --database-url) is given an exam and a CT series of N slices of 512x512
(uncompressed, about 0.5 MB each, sent by §2.2 saveImgFile, untimed). Then Debian's headless Chromium
(driven by Playwright) opens the page's link, twice in fresh browser contexts:

  cold   the first view after the server started (since revision 0003_instance_order the order, frames
         and labels come from the instance rows: no file is read; before, every header was read from its file)
  warm   the second view

For each: wall time from the navigation to the first image decoded in the page (Python side), the HTML's
responseEnd and the first rendered image's responseEnd (the page's Resource Timing). Then the time to step
through the next 50 slices with the arrow key, each waited for (the page preloads four on each side).

Run:  .venv/bin/python bench/page_first_image.py                 (about 1-2 minutes)
      .venv/bin/python bench/page_first_image.py --slices 100    (quick look)
Needs Debian's chromium (`apt-get install chromium fonts-noto-cjk`, as bin/test does) and playwright (in
the test extras).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from mie.config import Settings  # noqa: E402
from mie.runtime import Runtime  # noqa: E402
from mie.service.links import Page, light_image_url, page_url  # noqa: E402
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION  # noqa: E402
from tests.dicom_files import part10_bytes  # noqa: E402
from tests.page_data import ct_series, store_exam, store_instance  # noqa: E402
from tests.test_cli import free_port  # noqa: E402
from tests.test_crash import start_server  # noqa: E402
from tests.test_pages_browser import CHROMIUM, CHROMIUM_ARGS, SLICE_ON_SCREEN  # noqa: E402


def big_ct_series(study_uid: str, slices: int) -> list[bytes]:
    """CT_small (128x128) scaled to 512x512 by repeating pixels: a CT matrix of the usual size."""
    files = []
    for ds in ct_series(study_uid, slices):
        pixels = np.kron(np.frombuffer(ds.PixelData, dtype=np.int16).reshape(ds.Rows, ds.Columns), np.ones((4, 4), np.int16))
        ds.Rows, ds.Columns = pixels.shape
        ds.PixelData = pixels.astype(np.int16).tobytes()
        files.append(part10_bytes(ds))
    return files


def view(browser: object, address: str, steps: int) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    start = time.perf_counter()
    page.goto(address, wait_until="commit")
    page.wait_for_function(SLICE_ON_SCREEN, arg="render", polling=5, timeout=120_000)
    first = time.perf_counter() - start
    timing = page.evaluate(
        "() => ({html: performance.getEntriesByType('navigation')[0].responseEnd,"
        " image: (performance.getEntriesByType('resource').find(e => e.name.includes('/render?')) || {}).responseEnd})"
    )
    start = time.perf_counter()
    for number in range(2, steps + 2):
        page.keyboard.press("ArrowDown")
        page.wait_for_function(f"() => document.getElementById('overlay-slice').textContent.startsWith('{number} /')", polling=5)
        page.wait_for_function(SLICE_ON_SCREEN, arg="render", polling=5)
    stepping = time.perf_counter() - start
    context.close()
    return {
        "first_image_s": first,
        "html_ms": timing["html"],
        "image_ms": timing["image"] or float("nan"),
        "step_ms": stepping * 1000 / steps,
    }


@contextlib.contextmanager
def served_ct_link(slices: int, database_url: str | None, prefix: str) -> Iterator[tuple[str, str]]:
    """(base URL, the exam's §2.6 image link) of a `mie serve` holding an exam with a CT series of `slices` slices
    of 512x512 (sent by §2.2, untimed), SQLite in a temporary directory unless `database_url`."""
    with served_ct_links([slices], database_url, prefix) as (base, links):
        yield base, links[0]


@contextlib.contextmanager
def served_ct_links(counts: Sequence[int], database_url: str | None, prefix: str) -> Iterator[tuple[str, list[str]]]:
    """`served_ct_link` with an exam (a study of its own) for each of `counts`: the image link of each."""
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        data_dir = Path(temporary) / "data"
        database_url = database_url or f"sqlite:///{Path(temporary) / 'bench.sqlite3'}"
        for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, "another-key")):
            subprocess.run(
                [sys.executable, "-m", "mie.cli", "institution", "add", code, "--key", key, "--data-dir", str(data_dir)]
                + ["--database-url", database_url],
                check=True,
                capture_output=True,
            )
        port = free_port()
        server = start_server(data_dir, database_url, port, 0)
        try:
            base = f"http://127.0.0.1:{port}"
            exams = []
            with httpx.Client(base_url=base, timeout=120) as client:
                for number, slices in enumerate(counts):
                    started = time.perf_counter()
                    exam = store_exam(client) if number == 0 else store_exam(client, studyUid=generate_uid())
                    files = big_ct_series(exam.record["studyUid"], slices)
                    for data in files:
                        store_instance(client, exam, data, len(files))
                    exams.append(exam)
                    size = statistics.mean(map(len, files)) / 1e6
                    print(f"stored {len(files)} slices of {size:.2f} MB in {time.perf_counter() - started:.1f} s")
            runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
            links = [
                page_url(base, Page.image, runtime.links.issue(Page.image, exam.record["hiImgIndx"], OTHER_INSTITUTION))
                for exam in exams
            ]
            runtime.database.dispose()
            yield base, links
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with served_ct_link(args.slices, args.database_url, "mie-page-bench-") as (base, link):
        address = light_image_url(base, parse_qs(urlsplit(link).query)["t"][0])  # the light page, OHIF or not
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for label in ("cold", "warm"):
                figures = view(browser, address, args.steps)
                print(
                    f"{label}: first image on screen {figures['first_image_s'] * 1000:.0f} ms after navigation "
                    f"(HTML responseEnd {figures['html_ms']:.0f} ms, first image responseEnd {figures['image_ms']:.0f} ms); "
                    f"next {args.steps} slices by arrow key {figures['step_ms']:.1f} ms each"
                )
            browser.close()


if __name__ == "__main__":
    main()
