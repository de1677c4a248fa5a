"""OHIF Viewer at a real §2.6 image link, in a real headless Chromium (Debian's), against a real `mie serve`.

Once per run, on SQLite: what the viewer shows does not depend on the database (tests/test_dicomweb.py runs the
DICOMweb routes it uses on both). Chromium draws WebGL with SwiftShader (no GPU here). Without chromium or
OHIF's files (bin/install-ohif) the test skips, saying why, except in CI (env CI set), where it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mie.config import settings_from_environment
from mie.service import viewer
from tests.page_data import CT_SERIES_NUMBER
from tests.test_pages_browser import (
    CHROMIUM_ARGS,
    NO_WEBGL2,
    Served,
    _picture,
    _shot,
    _unavailable,
    launched_chromium,
    serve_pages,
)

# WebGL without a GPU: ANGLE on SwiftShader (Chromium refuses SwiftShader for WebGL unless told it may)
SWIFTSHADER = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
VIEWER_ARGS = [arg for arg in CHROMIUM_ARGS if arg != "--disable-gpu"] + SWIFTSHADER
SLICES = 8
# What OHIF 3.13 logs as an error although nothing is wrong, each with why it is excused. Empty so far: any
# console error fails the test.
EXCUSED: tuple[tuple[str, str], ...] = ()


@pytest.fixture(scope="module")
def viewer_browser() -> Iterator[object]:
    settings = settings_from_environment()  # where the `mie serve` below looks
    if viewer.installed(settings) is None:
        _unavailable(f"OHIF Viewer {viewer.OHIF_VERSION} in {settings.viewer_dir} (bin/install-ohif)")
    yield from launched_chromium(VIEWER_ARGS)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_pages(tmp_path_factory.mktemp("viewer"), slices=SLICES)


# The largest canvas holds a picture: its own pixels (cornerstone draws its WebGL result onto a 2D canvas, so
# nothing laid over it counts), sampled on a 32x32 grid, take more than 8 values.
DRAWN = """() => {
  let best = null;
  for (const c of document.querySelectorAll('canvas')) if (!best || c.width * c.height > best.width * best.height) best = c;
  if (!best || best.width < 200 || best.height < 200) return false;
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


THUMBNAILS_DRAWN = """() => {
  const thumbnails = document.querySelectorAll('[data-cy=study-browser-thumbnail]');
  return thumbnails.length > 0 && Array.from(thumbnails).every(t => {
    const image = t.querySelector('img');
    return image && image.complete && image.naturalWidth > 0;
  });
}"""
# the series numbers of thumbnails that carry OHIF's warning sign (its display set messages)
WARNED_SERIES = """() => Array.from(document.querySelectorAll('[data-cy=study-browser-thumbnail]'))
  .filter(t => t.querySelector('[id^=display-set-tooltip-]')).map(t => Number(t.dataset.series))"""


def _errors_not_excused(errors: list[str]) -> list[str]:
    return [error for error in errors if not any(text in error for text, _why in EXCUSED)]


def test_the_image_link_opens_ohif_on_the_study(viewer_browser: object, served: Served) -> None:
    context = viewer_browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(served.image_link())
    page.wait_for_url("**/viewer?**", timeout=30_000)
    # the study's first slice drawn on OHIF's viewport
    page.wait_for_function(DRAWN, polling=250, timeout=60_000)
    # every series' thumbnail is its image (not the grey box of one that failed to load)
    page.wait_for_function(THUMBNAILS_DRAWN, polling=250, timeout=60_000)
    # no first-run tour over the image (the link's configuration turns it off)
    assert page.evaluate("() => document.querySelector('.shepherd-element, .shepherd-modal-overlay-container')") is None
    # the CT series stacks into a volume: OHIF has no warning for it (the single MR image gets OHIF's "not a
    # reconstructable 3D volume", which is true of one image)
    warned = page.evaluate(WARNED_SERIES)
    assert CT_SERIES_NUMBER not in warned and len(warned) <= 1, warned
    # through the link's read-only DICOMweb root, from the public address, and nothing from elsewhere
    assert any("/dicom-web/t/" in url and "/frames/" in url for url in asked), asked
    elsewhere = [url for url in asked if not url.startswith((served.base, "data:", "blob:"))]
    assert elsewhere == []
    assert _errors_not_excused(errors) == []
    if os.environ.get("MIE_PAGE_SCREENSHOTS"):  # for a person to look at
        page.screenshot(path=os.path.join(os.environ["MIE_PAGE_SCREENSHOTS"], "ohif.png"))
        Path(os.environ["MIE_PAGE_SCREENSHOTS"], "ohif-requests.txt").write_text("\n".join([*asked, "", *errors]))
    context.close()


def test_a_browser_without_webgl_gets_the_light_page(viewer_browser: object, served: Served) -> None:
    context = viewer_browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    context.add_init_script(NO_WEBGL2)
    page = context.new_page()
    page.goto(served.image_link())
    page.wait_for_url("**/mie/image/light?t=*")
    page.wait_for_function("() => { const i = document.getElementById('image'); return i && i.complete && i.naturalWidth > 0; }")
    context.close()


def test_a_phone_gets_the_light_page(viewer_browser: object, served: Served) -> None:
    """OHIF's panels leave its image a few dozen pixels wide at 390 px; the light page fits the image to the width."""
    context = viewer_browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(served.image_link())
    page.wait_for_url("**/mie/image/light?t=*")
    page.wait_for_function("() => { const i = document.getElementById('image'); return i && i.complete && i.naturalWidth > 0; }")
    picture = _picture(page)  # drawn whole inside the phone's window, at least 300 px wide, no sideways scroll
    assert picture["width"] >= 300 and picture["x"] >= 0 and picture["x"] + picture["width"] <= 390.5, picture
    assert picture["y"] >= 0 and picture["y"] + picture["height"] <= 844.5, picture
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    _shot(page, "phone-image-link")
    context.close()
