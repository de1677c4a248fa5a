"""Benchmark: OHIF Viewer at the §2.6 image link of a 500-slice CT series, time until the first image is on screen
in headless Chromium, beside the light page's first image in the same run.

A `mie serve` (SQLite unless --database-url; OHIF from bin/install-ohif where the server's environment looks for
it) is given an exam and a CT series of N slices of 512x512 (uncompressed, about 0.5 MB each, sent by §2.2
saveImgFile, untimed). Then Debian's headless Chromium (WebGL on SwiftShader: no GPU here) opens, each in a fresh
browser context (no HTTP cache), in turn:

  light   the light page of the same link (/mie/image/light): first slice decoded in the page
  ohif    the §2.6 image link (/mie/image/view, which hands a WebGL browser to OHIF): the largest canvas of the
          page holds a non-uniform picture (its 2D pixels read in the page at each animation frame)

`--rounds` times (the first round is the server's cold one: series metadata not built yet). For OHIF, the page's
Resource Timing shows when the viewer's page, its configuration, the series metadata and the first frame arrived
(ms from the viewer page's navigation start).

Run:  .venv/bin/python bench/viewer_first_image.py                 (about 2-3 minutes)
      .venv/bin/python bench/viewer_first_image.py --slices 100    (quick look)
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
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.page_first_image import LOADED, big_ct_series  # noqa: E402
from mie.config import Settings  # noqa: E402
from mie.runtime import Runtime  # noqa: E402
from mie.service.links import Page, light_image_url, page_url  # noqa: E402
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION  # noqa: E402
from tests.page_data import store_exam, store_instance  # noqa: E402
from tests.test_cli import free_port  # noqa: E402
from tests.test_crash import start_server  # noqa: E402
from tests.test_viewer_browser import CHROMIUM, VIEWER_ARGS  # noqa: E402

# The largest canvas holds a picture: its pixels (cornerstone draws its WebGL result onto a 2D canvas) sampled on a
# 32x32 grid are not all one value.
DRAWN = """() => {
  let best = null;
  for (const c of document.querySelectorAll('canvas')) if (!best || c.width * c.height > best.width * best.height) best = c;
  if (!best || best.width < 200) return false;
  const context = best.getContext('2d');
  if (!context) return false;
  const { data } = context.getImageData(0, 0, best.width, best.height);
  const seen = new Set();
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const i = (Math.floor(y * best.height / 32) * best.width + Math.floor(x * best.width / 32)) * 4;
    seen.add(data[i]);
  }
  return seen.size > 8;
}"""
TIMING = """() => {
  const entry = part => performance.getEntriesByType('resource').find(e => e.name.includes(part)) || {};
  return { html: performance.getEntriesByType('navigation')[0].responseEnd, config: entry('/viewer-config/').responseEnd,
           'metadata asked': entry('/metadata').requestStart, metadata: entry('/metadata').responseEnd,
           'frame asked': entry('/frames/').requestStart, frame: entry('/frames/').responseEnd };
}"""


def first_image(browser: object, address: str, drawn: str, again: bool = False) -> tuple[float, dict[str, float], float]:
    """Seconds to the first image in a fresh context, its Resource Timing, and (`again`) the seconds of a second
    view in the same context (the browser's HTTP and code caches warm, as for a doctor's second link)."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    seconds, timing = _view(context, address, drawn)
    second = _view(context, address, drawn)[0] if again else float("nan")
    context.close()
    return seconds, timing, second


def _view(context: object, address: str, drawn: str) -> tuple[float, dict[str, float]]:
    page = context.new_page()  # type: ignore[attr-defined]
    start = time.perf_counter()
    page.goto(address, wait_until="commit")
    page.wait_for_function(drawn, polling="raf", timeout=120_000)
    seconds = time.perf_counter() - start
    timing = page.evaluate(TIMING)
    page.close()
    return seconds, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mie-viewer-bench-") as temporary:
        data_dir = Path(temporary) / "data"
        database_url = args.database_url or f"sqlite:///{Path(temporary) / 'bench.sqlite3'}"
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
            with httpx.Client(base_url=base, timeout=120) as client:
                exam = store_exam(client)
                files = big_ct_series(exam.record["studyUid"], args.slices)
                for data in files:
                    store_instance(client, exam, data, len(files))
                print(f"stored {len(files)} slices of {statistics.mean(map(len, files)) / 1e6:.2f} MB")
                runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
                link = page_url(base, Page.image, runtime.links.issue(Page.image, exam.record["hiImgIndx"], OTHER_INSTITUTION))
                runtime.database.dispose()
                if "/viewer?" not in client.get(link).text:
                    sys.exit("the image link does not open OHIF: install it (bin/install-ohif) where mie serve looks")
            light = light_image_url(base, parse_qs(urlsplit(link).query)["t"][0])
            figures: dict[str, list[float]] = {"light": [], "ohif": [], "again": []}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=VIEWER_ARGS)
                for round_ in range(args.rounds):
                    light_s, _, _ = first_image(browser, light, LOADED)
                    ohif_s, timing, again_s = first_image(browser, link, DRAWN, again=True)
                    figures["light"].append(light_s)
                    figures["ohif"].append(ohif_s)
                    figures["again"].append(again_s)
                    print(
                        f"round {round_ + 1}{' (server cold)' if round_ == 0 else ''}: light page {light_s * 1000:.0f} ms, "
                        f"OHIF {ohif_s * 1000:.0f} ms (x{ohif_s / light_s:.1f}), again in the same browser context "
                        f"{again_s * 1000:.0f} ms (x{again_s / light_s:.1f}); OHIF page's responseEnd: "
                        + ", ".join(f"{name} {value:.0f}" for name, value in timing.items() if value is not None)
                        + " ms"
                    )
                browser.close()
            light_median, ohif_median = statistics.median(figures["light"]), statistics.median(figures["ohif"])
            again_median = statistics.median(figures["again"])
            print(
                f"median: light page {light_median * 1000:.0f} ms, OHIF {ohif_median * 1000:.0f} ms "
                f"(x{ohif_median / light_median:.1f}), again {again_median * 1000:.0f} ms (x{again_median / light_median:.1f}); "
                f"load average {os.getloadavg()[0]:.2f}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
