"""The report and image pages in a real headless Chromium (Debian's), against a real `mie serve`.

Chromium is driven by Playwright with Debian's browser (Playwright's own browser download is not reachable
from the medical-insurance network, nor from this machine). Without chromium the tests skip, saying why,
except in CI (env CI set), where they fail: bin/test installs it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from mie.config import Settings
from mie.runtime import Runtime
from mie.service.links import LinkSigner, Page, light_image_url, page_url
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION
from tests.page_data import StoredExamData, pdf, store_ct_series, store_exam, store_report
from tests.test_cli import free_port
from tests.test_crash import start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The flags the machine's probe used: no sandbox as root, and no background connections (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A browser without WebGL 2: getContext('webgl2') gives null, as it does there.
NO_WEBGL2 = (
    "const original = HTMLCanvasElement.prototype.getContext;"
    "HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {"
    " return kind === 'webgl2' ? null : original.call(this, kind, ...rest); };"
)
FINDINGS = "双肺纹理清晰，未见明显实质性病变。"
CONCLUSION = "胸部CT平扫未见明显异常"
SLICES = 12


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests need {reason} in CI (bin/test installs it)")
    pytest.skip(f"{reason} is not installed here")


def launched_chromium(args: list[str]) -> Iterator[object]:
    """Debian's chromium launched through Playwright with `args`, or the skip (in CI the failure) saying what is
    missing."""
    if not Path(CHROMIUM).exists():
        _unavailable("Debian's chromium (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launched_chromium(CHROMIUM_ARGS)


@dataclass
class Served:
    base: str
    links: LinkSigner
    exam: StoredExamData
    reports: list[bytes]

    def link(self, page: Page, now: float | None = None) -> str:
        """The page's address; for the image page the light one (the §2.6 image link opens OHIF when it is
        installed: `image_link`, tests/test_viewer_browser.py)."""
        token = self.links.issue(page, self.exam.record["hiImgIndx"], OTHER_INSTITUTION, now=now)
        return light_image_url(self.base, token) if page is Page.image else page_url(self.base, page, token)

    def image_link(self) -> str:
        """The §2.6 image link as the answer carries it."""
        return page_url(self.base, Page.image, self.links.issue(Page.image, self.exam.record["hiImgIndx"], OTHER_INSTITUTION))

    def link_expiring_in(self, page: Page, seconds: float) -> str:
        return self.link(page, now=time.time() - self.links.ttl_seconds + seconds)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`mie serve` holding an exam with two versions of its report PDF, an MR instance (series 1) and a CT series of
    SLICES slices (series 2). The tests only look: one server for the module, on SQLite (the pages show the
    same whatever the database; the database's side of them is tested in test_pages.py on both)."""
    yield from serve_pages(tmp_path_factory.mktemp("pages"))


def serve_pages(tmp_path: Path, slices: int = SLICES) -> Iterator[Served]:
    """`served`'s server and exam, with a CT series of `slices` slices."""
    database_url = f"sqlite:///{tmp_path / 'pages.sqlite3'}"
    data_dir = tmp_path / "data"
    for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, "another-key")):
        command = [sys.executable, "-m", "mie.cli", "institution", "add", code, "--key", key]
        subprocess.run([*command, "--data-dir", str(data_dir), "--database-url", database_url], check=True, capture_output=True)
    port = free_port()
    server = start_server(data_dir, database_url, port, 0)
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            exam = store_exam(client, imgDscr=FINDINGS, diagRslt=CONCLUSION, rpotDrName="李医生")
            reports = [pdf("MIE REPORT VERSION ONE"), pdf("MIE REPORT VERSION TWO")]
            for data in reports:
                store_report(client, exam, data)
            store_ct_series(client, exam, count=slices, others=("mr",))
        yield Served(base, runtime.links, exam, reports)
    finally:
        runtime.database.dispose()
        server.terminate()
        server.wait(timeout=30)


def _open(
    browser: object, address: str, size: tuple[int, int] = (1280, 900), touch: bool = False
) -> tuple[object, list[str], object]:
    """A new page at `address`: (page, console errors and uncaught exceptions, the main response)."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": size[0], "height": size[1]}, locale="zh-CN", has_touch=touch, is_mobile=touch
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(address, wait_until="load")
    return page, errors, response


def _shot(page: object, name: str) -> None:
    """A screenshot for a person to look at, when MIE_PAGE_SCREENSHOTS names a directory."""
    directory = os.environ.get("MIE_PAGE_SCREENSHOTS")
    if directory:
        page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # the PDF viewer draws after the page's load
        page.screenshot(path=os.path.join(directory, f"{name}.png"))  # type: ignore[attr-defined]


def _not_blank(png: bytes) -> np.ndarray:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    assert pixels.std() > 10, f"the screenshot is (nearly) one flat colour (std {pixels.std():.1f})"
    assert pixels.max() > 128, "nothing bright on the screenshot"
    return pixels


SIZES = [(1366, 900), (1920, 1080), (390, 844)]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_report_page_shows_findings_first_and_the_pdf_at_its_width(
    browser: object, served: Served, size: tuple[int, int]
) -> None:
    page, errors, response = _open(browser, served.link(Page.report), size)
    assert response.status == 200  # type: ignore[attr-defined]
    width, height = size
    findings = page.locator("#field-imgDscr").bounding_box()  # type: ignore[attr-defined]
    conclusion = page.locator("#field-diagRslt").bounding_box()  # type: ignore[attr-defined]
    frame = page.locator("#report-frame").bounding_box()  # type: ignore[attr-defined]
    main = page.locator("main").bounding_box()  # type: ignore[attr-defined]
    assert findings and conclusion and frame and main
    assert FINDINGS in page.inner_text("#field-imgDscr") and CONCLUSION in page.inner_text("#field-diagRslt")  # type: ignore[attr-defined]
    # findings and diagnosis on the first screen, the PDF after them at the page's width
    assert findings["height"] > 0 and conclusion["y"] + conclusion["height"] < height
    assert frame["y"] > conclusion["y"] and frame["width"] >= 0.9 * main["width"]
    assert page.get_attribute("#report-frame", "src").endswith("view=FitH")  # type: ignore[attr-defined]
    patient = page.locator("#field-certno").bounding_box()  # type: ignore[attr-defined]
    assert patient and patient["y"] > frame["y"] + frame["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # type: ignore[attr-defined]
    assert page.locator("#images-link").is_visible()  # type: ignore[attr-defined]
    assert errors == []
    _shot(page, f"report-{width}x{height}")
    page.context.close()  # type: ignore[attr-defined]


def test_the_report_page_shows_the_report_and_its_pdf(browser: object, served: Served) -> None:
    pdfs: list[tuple[str, str, int]] = []
    page, errors, response = _open(browser, "about:blank")
    page.on(
        "response",
        lambda r: pdfs.append((r.url, r.headers.get("content-type", ""), r.status)) if "/report/pdf" in r.url else None,
    )
    response = page.goto(served.link(Page.report), wait_until="load")
    assert response.status == 200
    page.wait_for_function("() => document.querySelector('#report-frame') !== null")
    assert FINDINGS in page.inner_text("#field-imgDscr")
    assert CONCLUSION in page.inner_text("#field-diagRslt")
    assert "李医生" in page.inner_text("#field-rpotDrName")
    certno = served.exam.record["certno"]
    assert page.inner_text("#field-certno") == f"{certno[:6]}*****{certno[-4:]}"
    assert certno not in page.content()
    # the newest version is shown inline, the earlier one is a link away
    deadline = time.monotonic() + 30
    while not pdfs and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert pdfs and pdfs[0][1] == "application/pdf" and pdfs[0][2] == 200, pdfs
    frame_source = page.get_attribute("#report-frame", "src")
    assert frame_source is not None
    with httpx.Client(base_url=served.base + "/mie/report/", timeout=30) as client:
        assert client.get(frame_source).content == served.reports[1]
        links = page.eval_on_selector_all("a.report-link", "links => links.map(a => a.getAttribute('href'))")
        assert [client.get(href).content for href in links] == [served.reports[1], served.reports[0]]
    shown = len(pdfs)
    earlier = page.locator("a.report-link >> nth=1")
    earlier.scroll_into_view_if_needed()  # below the PDF: scrolled to, and clicked once the page stands still
    page.wait_for_timeout(300)
    earlier.click()
    # the earlier version arrives as a PDF; Chromium's viewer may also make requests of its own, whose responses
    # carry no headers, so the one looked for is a PDF among the responses since the click, not the last one
    deadline = time.monotonic() + 30
    while not any(kind == "application/pdf" for _, kind, _ in pdfs[shown:]) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert any(kind == "application/pdf" and status == 200 for _, kind, status in pdfs[shown:]), pdfs[shown:]
    assert page.locator("text=第 1 版").count() == 1
    # the way to the images: the image link of the same exam, which a browser without WebGL 2 follows to the light
    # page (with OHIF installed, one with WebGL goes there: tests/test_viewer_browser.py)
    assert (page.get_attribute("#images-link", "href") or "").startswith("../image/view?t=")
    page.context.add_init_script(NO_WEBGL2)
    # followed by the link's own click(): a mouse click at the link's place was once lost in CI (no navigation at
    # all) while the PDF viewer beside it laid itself out
    page.locator("#images-link").evaluate("link => link.click()")
    # the light page itself: the chooser's own address matches a looser pattern, and it is replaced before its load
    page.wait_for_url("**/mie/image/light?t=*")
    page.wait_for_function("() => !!document.getElementById('image')")
    _image_loaded(page)
    assert page.text_content("#field-certno") == f"{certno[:6]}*****{certno[-4:]}"  # in the 检查信息 panel
    assert errors == []
    page.context.close()


# The picture on screen is the slice the page is at (of the series chosen, at the slider's position) and its render
# address holds `part` (the page shows each rendered slice as a blob: URL; data-address is where it came from).
SLICE_ON_SCREEN = """part => {
    const i = document.getElementById('image'), active = document.querySelector('button.series.active');
    return !!active && !i.hidden && i.complete && i.naturalWidth > 0 && (i.dataset.address || '').includes(part)
           && i.dataset.slice === active.dataset.index + ':' + document.getElementById('slider').value; }"""


def _image_loaded(page: object, address_part: str = "render") -> None:
    page.wait_for_function(SLICE_ON_SCREEN, arg=address_part)  # type: ignore[attr-defined]


def _choose(page: object, modality: str) -> None:
    """Click the series of `modality` in the list (the MR is series 1, the CT series 2)."""
    page.click(f"button.series:has-text('{modality}')")  # type: ignore[attr-defined]


def _picture(page: object) -> dict[str, float]:
    """Where the picture is drawn: the image element's box with `object-fit: contain` applied to it."""
    return page.evaluate(  # type: ignore[attr-defined]
        """() => {
        const i = document.getElementById('image'), r = i.getBoundingClientRect();
        const scale = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);
        const w = i.naturalWidth * scale, h = i.naturalHeight * scale;
        return {x: r.x + (r.width - w) / 2, y: r.y + (r.height - h) / 2, width: w, height: h,
                box: {x: r.x, y: r.y, width: r.width, height: r.height}};
    }"""
    )


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_the_image_fits_the_window(browser: object, served: Served, size: tuple[int, int]) -> None:
    width, height = size
    narrow = width < 700
    page, errors, response = _open(browser, served.link(Page.image), size, touch=narrow)
    assert response.status == 200  # type: ignore[attr-defined]
    _choose(page, "CT")
    _image_loaded(page, "preset=auto")
    picture = _picture(page)
    for box in (picture, picture["box"]):  # the element and the picture in it: whole, inside the window
        assert box["width"] > 0 and box["height"] > 0
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, box
    # the page itself does not scroll: nothing below the fold, nothing sideways
    assert page.evaluate("document.documentElement.scrollHeight") <= height  # type: ignore[attr-defined]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("innerWidth")  # type: ignore[attr-defined]
    series = page.locator("#series-list").bounding_box()  # type: ignore[attr-defined]
    assert series
    if narrow:  # the series list is a strip above the image, the image at least 300 px wide
        assert picture["width"] >= 300, picture
        assert series["y"] + series["height"] <= picture["box"]["y"] and series["width"] <= width
    else:
        assert series["x"] + series["width"] <= picture["box"]["x"]
    assert errors == []
    _shot(page, f"image-{width}x{height}")
    page.context.close()  # type: ignore[attr-defined]


def test_the_image_page_shows_the_slices_and_scrolls(browser: object, served: Served) -> None:
    page, errors, response = _open(browser, served.link(Page.image))
    assert response.status == 200
    _image_loaded(page)
    # the MR opens first: no CT presets there; its own window in the overlay (MR_small: centre 600, width 1600)
    assert page.locator("button.series.active").inner_text().startswith("#1 MR")
    assert not page.locator("#presets").is_visible()
    assert page.inner_text("#overlay-window") == "窗宽 1600 · 窗位 600"
    _choose(page, "CT")
    _image_loaded(page, "preset=auto")
    assert page.locator("#presets").is_visible() and page.locator("button.preset.active").inner_text() == "默认"
    first = _not_blank(page.locator("#image").screenshot())
    assert page.inner_text("#overlay-slice") == f"1 / {SLICES} · 实例号 1"
    assert page.inner_text("#overlay-window").startswith("窗宽 ")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.getElementById('overlay-slice').textContent.startsWith('2 /')")
    _image_loaded(page)
    assert page.inner_text("#overlay-slice") == f"2 / {SLICES} · 实例号 2"
    page.mouse.move(700, 500)
    page.mouse.wheel(0, 120)
    page.wait_for_function("() => document.getElementById('overlay-slice').textContent.startsWith('3 /')")
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.getElementById('overlay-slice').textContent.startsWith('{SLICES} / {SLICES}')")
    _image_loaded(page)
    page.wait_for_timeout(200)
    last = _not_blank(page.locator("#image").screenshot())
    assert first.shape == last.shape and not np.array_equal(first, last), "scrolling shows another slice"
    page.click("button[data-preset=lung]")
    _image_loaded(page, "preset=lung")
    assert page.inner_text("#overlay-window") == "窗宽 1500 · 窗位 -600"
    page.wait_for_timeout(200)
    lung = _not_blank(page.locator("#image").screenshot())
    assert not np.array_equal(lung, last), "the lung window shows the slice otherwise"
    # another series: its own window again, and no presets on the MR
    _choose(page, "MR")
    _image_loaded(page, "preset=auto")
    assert not page.locator("#presets").is_visible()
    assert page.inner_text("#overlay-window") == "窗宽 1600 · 窗位 600"
    _choose(page, "CT")
    _image_loaded(page, "preset=auto")
    assert page.locator("button.preset.active").inner_text() == "默认"
    page.eval_on_selector("#slider", "s => { s.value = 3; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.getElementById('overlay-slice').textContent.startsWith('4 /')")
    assert errors == []
    page.context.close()


def test_drag_changes_the_window_and_zoom_and_pan_move_the_picture(browser: object, served: Served) -> None:
    page, errors, _response = _open(browser, served.link(Page.image))
    _choose(page, "CT")
    _image_loaded(page, "preset=auto")
    before = page.inner_text("#overlay-window")
    renders: list[str] = []
    page.on("request", lambda request: renders.append(request.url) if "/mie/image/render" in request.url else None)
    box = page.locator("#stage").bounding_box()
    assert box
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 150, y - 90, steps=40)  # right: wider; up: a higher centre
    page.mouse.up()
    # the last position is drawn, and the overlay says the window of the picture on screen
    page.wait_for_function(
        """() => { const a = new URLSearchParams((document.getElementById('image').dataset.address || '').split('?')[1]);
        return a.has('ww') && document.getElementById('overlay-window').textContent ===
               '窗宽 ' + a.get('ww') + ' · 窗位 ' + a.get('wc'); }"""
    )
    _image_loaded(page, "&wc=")
    address = page.get_attribute("#image", "data-address")
    assert address is not None
    query = dict(part.split("=", 1) for part in address.split("?", 1)[1].split("&"))
    old_width, old_center = (float(value) for value in before.replace("窗宽 ", "").split(" · 窗位 "))
    assert float(query["ww"]) > old_width and float(query["wc"]) > old_center
    windowed = [url for url in renders if "&wc=" in url and f"sop={query['sop']}&" in url]  # the slice on screen
    assert 1 <= len(windowed) < 20, "dragging asks for a window at most every so often, not at each of 40 moves"
    # plain wheel: slices; ctrl + wheel: zoom; shift + drag: pan
    page.mouse.move(x, y)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -120)
    page.keyboard.up("Control")
    page.wait_for_function("() => document.getElementById('overlay-zoom').textContent === '缩放 110%'")
    assert page.inner_text("#overlay-slice").startswith("1 /")
    page.keyboard.down("Shift")
    page.mouse.down()
    page.mouse.move(x + 40, y + 30, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    transform = page.eval_on_selector("#image", "i => i.style.transform")
    assert transform.startswith("translate(40px, 30px) scale(1.1")
    page.click("#fit")
    _image_loaded(page, "preset=auto")
    assert page.eval_on_selector("#image", "i => i.style.transform") == "translate(0px, 0px) scale(1)"
    _shot(page, "image-after-drag")
    assert errors == []
    page.context.close()


def test_a_link_that_expires_while_the_page_is_open_says_so(browser: object, served: Served) -> None:
    expires_at = time.time() + 10  # long enough for the page to open on a loaded machine
    page, _errors, response = _open(browser, served.link_expiring_in(Page.image, 10))
    assert response.status == 200
    _choose(page, "CT")
    _image_loaded(page, "preset=auto")
    page.wait_for_timeout(max(0.0, expires_at - time.time()) * 1000 + 1500)  # past the link's expiry
    page.keyboard.press("End")  # a slice not loaded yet: the server answers 410
    page.wait_for_selector("#notice", state="visible")
    assert page.inner_text("#notice") == "链接已过期，请重新查询"
    assert not page.locator("#image").is_visible() and page.inner_text("#overlay-window") == ""
    _shot(page, "image-expired")
    page.context.close()


@pytest.mark.parametrize("kind", [Page.report, Page.image])
def test_altered_and_expired_links_get_the_refusal_page(browser: object, served: Served, kind: Page) -> None:
    good = served.link(kind)
    position = len(good) - 8
    altered = good[:position] + ("A" if good[position] != "A" else "B") + good[position + 1 :]
    expired = served.link(kind, now=time.time() - served.links.ttl_seconds - 5)
    for address, status, reason in ((altered, 403, "链接无效或已被修改"), (expired, 410, "链接已过期")):
        page, _errors, response = _open(browser, address)
        assert response.status == status
        assert page.inner_text("h2") == "无法打开此页面"
        assert reason in page.inner_text("#reason")
        page.context.close()
