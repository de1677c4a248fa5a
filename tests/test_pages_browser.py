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
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, POSTGRES_URL, own_postgres_schema
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
        return page_url(self.base, page, self.links.issue(page, self.exam.record["hiImgIndx"], OTHER_INSTITUTION, now=now))

    def light_link(self) -> str:
        """The light image page (the image link goes to OHIF when it is installed: tests/test_viewer_browser.py)."""
        return light_image_url(self.base, self.links.issue(Page.image, self.exam.record["hiImgIndx"], OTHER_INSTITUTION))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`mie serve` holding an exam with two versions of its report PDF and a CT series of SLICES slices (the
    tests only look: one server per database for the module)."""
    tmp_path = tmp_path_factory.mktemp(f"pages-{request.param}")
    if request.param == "sqlite":
        yield from _serve(tmp_path, f"sqlite:///{tmp_path / 'pages.sqlite3'}")
        return
    with own_postgres_schema("mie_pages") as schema:
        yield from _serve(tmp_path, f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")


def _serve(tmp_path: Path, database_url: str, slices: int = SLICES) -> Iterator[Served]:
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
            store_ct_series(client, exam, count=slices)
        yield Served(base, runtime.links, exam, reports)
    finally:
        runtime.database.dispose()
        server.terminate()
        server.wait(timeout=30)


def _open(browser: object, address: str) -> tuple[object, list[str], object]:
    """A new page at `address`: (page, console errors and uncaught exceptions, the main response)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(address, wait_until="load")
    return page, errors, response


def _not_blank(png: bytes) -> np.ndarray:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    assert pixels.std() > 10, f"the screenshot is (nearly) one flat colour (std {pixels.std():.1f})"
    assert pixels.max() > 128, "nothing bright on the screenshot"
    return pixels


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
    page.click("a.report-link >> nth=1")
    # the earlier version arrives as a PDF; Chromium's viewer may also make requests of its own, whose responses
    # carry no headers, so the one looked for is a PDF among the responses since the click, not the last one
    deadline = time.monotonic() + 30
    while not any(kind == "application/pdf" for _, kind, _ in pdfs[shown:]) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert any(kind == "application/pdf" and status == 200 for _, kind, status in pdfs[shown:]), pdfs[shown:]
    assert page.locator("text=第 1 版").count() == 1
    assert errors == []
    if os.environ.get("MIE_PAGE_SCREENSHOTS"):  # for a person to look at
        page.screenshot(path=os.path.join(os.environ["MIE_PAGE_SCREENSHOTS"], "report.png"))
    page.context.close()


def _image_loaded(page: object) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const i = document.getElementById('image'); "
        "return i.complete && i.naturalWidth > 0 && i.src.includes('render'); }"
    )


def test_the_image_page_shows_the_slices_and_scrolls(browser: object, served: Served) -> None:
    page, errors, response = _open(browser, served.light_link())
    assert response.status == 200
    _image_loaded(page)
    first = _not_blank(page.locator("#image").screenshot())
    assert page.inner_text("#status") == f"1 / {SLICES}"
    page.keyboard.press("ArrowDown")
    _image_loaded(page)
    assert page.inner_text("#status") == f"2 / {SLICES}"
    page.mouse.move(700, 500)
    page.mouse.wheel(0, 120)
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('3 /')")
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.getElementById('status').textContent === '{SLICES} / {SLICES}'")
    _image_loaded(page)
    page.wait_for_timeout(200)
    last = _not_blank(page.locator("#image").screenshot())
    assert first.shape == last.shape and not np.array_equal(first, last), "scrolling shows another slice"
    page.click("button[data-preset=lung]")
    page.wait_for_function("() => document.getElementById('image').src.includes('preset=lung')")
    _image_loaded(page)
    page.wait_for_timeout(200)
    lung = _not_blank(page.locator("#image").screenshot())
    assert not np.array_equal(lung, last), "the lung window shows the slice otherwise"
    page.eval_on_selector("#slider", "s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('1 /')")
    assert errors == []
    if os.environ.get("MIE_PAGE_SCREENSHOTS"):
        _image_loaded(page)
        page.screenshot(path=os.path.join(os.environ["MIE_PAGE_SCREENSHOTS"], "image.png"))
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
