"""Benchmark: OHIF Viewer at the §2.6 image link of a 500-slice CT series, time until the first image is on screen
in headless Chromium, beside the light page's first image in the same run.

A `mie serve` (SQLite unless --database-url; OHIF from bin/install-ohif where the server's environment looks for
it) is given an exam and a CT series of N slices of 512x512 (uncompressed, about 0.5 MB each, sent by §2.2
saveImgFile, untimed). Then Debian's headless Chromium (WebGL on SwiftShader: no GPU here) opens, each in a fresh
browser context (no HTTP cache), in turn:

  light   the light page of the same link (/mie/image/light): first slice decoded in the page
  ohif    the §2.6 image link (/mie/image/view, which hands a WebGL browser to OHIF): the largest canvas of the
          page holds a non-uniform picture (its 2D pixels read in the page at each animation frame)
  one     the same for another exam whose CT series has one slice: OHIF's own start-up and first drawing
          (bundles, WebGL on SwiftShader, codec), what is left when the series' size plays no part

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
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.page_first_image import served_ct_links  # noqa: E402
from mie.service.links import light_image_url  # noqa: E402
from tests.test_pages_browser import CHROMIUM, SLICE_ON_SCREEN  # noqa: E402
from tests.test_viewer_browser import DRAWN, VIEWER_ARGS  # noqa: E402

TIMING = """() => {
  const entry = part => performance.getEntriesByType('resource').find(e => e.name.includes(part)) || {};
  return { html: performance.getEntriesByType('navigation')[0].responseEnd, config: entry('/viewer-config/').responseEnd,
           'metadata asked': entry('/metadata').requestStart, metadata: entry('/metadata').responseEnd,
           'frame asked': entry('/frames/').requestStart, frame: entry('/frames/').responseEnd,
           'first paint': (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime };
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
    page.wait_for_function(drawn, arg="render", polling="raf", timeout=120_000)
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

    with served_ct_links([args.slices, 1], args.database_url, "mie-viewer-bench-") as (base, (link, one_slice)):
        if "/viewer?" not in httpx.get(link, timeout=60).text:
            sys.exit("the image link does not open OHIF: install it (bin/install-ohif) where mie serve looks")
        light = light_image_url(base, parse_qs(urlsplit(link).query)["t"][0])
        figures: dict[str, list[float]] = {"light": [], "ohif": [], "again": [], "one": []}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=VIEWER_ARGS)
            for round_ in range(args.rounds):
                light_s, _, _ = first_image(browser, light, SLICE_ON_SCREEN)
                ohif_s, timing, again_s = first_image(browser, link, DRAWN, again=True)
                one_s, one_timing, _ = first_image(browser, one_slice, DRAWN)
                figures["one"].append(one_s)
                figures["light"].append(light_s)
                figures["ohif"].append(ohif_s)
                figures["again"].append(again_s)
                print(
                    f"round {round_ + 1}{' (server cold)' if round_ == 0 else ''}: light page {light_s * 1000:.0f} ms, "
                    f"OHIF {ohif_s * 1000:.0f} ms (x{ohif_s / light_s:.1f}), again in the same browser context "
                    f"{again_s * 1000:.0f} ms (x{again_s / light_s:.1f}); OHIF page's Resource Timing: "
                    + ", ".join(f"{name} {value:.0f}" for name, value in timing.items() if value is not None)
                    + f" ms; OHIF on a one-slice study {one_s * 1000:.0f} ms (x{ohif_s / one_s:.2f} of it): "
                    + ", ".join(f"{name} {value:.0f}" for name, value in one_timing.items() if value is not None)
                    + " ms"
                )
            browser.close()
        light_median, ohif_median = statistics.median(figures["light"]), statistics.median(figures["ohif"])
        again_median = statistics.median(figures["again"])
        one_median = statistics.median(figures["one"])
        print(
            f"median: light page {light_median * 1000:.0f} ms, OHIF {ohif_median * 1000:.0f} ms "
            f"(x{ohif_median / light_median:.1f}), again {again_median * 1000:.0f} ms (x{again_median / light_median:.1f}), "
            f"OHIF on one slice {one_median * 1000:.0f} ms (500-slice / one-slice x{ohif_median / one_median:.2f}); "
            f"load average {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
