"""OHIF Viewer behind the image link, in-process: which page the link opens, the files served as they are with the
types a browser insists on, mie's app-config.js, each link's configuration, and the viewer page's own
Content-Security-Policy. A stand-in directory plays OHIF's files (tests/test_viewer_browser.py runs the real one)."""

from __future__ import annotations

import gzip
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.service import viewer
from mie.service.links import Page, page_url
from mie.web.app import create_app
from tests.conftest import OTHER_INSTITUTION
from tests.page_data import StoredExamData, store_ct_series, store_exam

PUBLIC = "http://10.1.2.3:8080"


def fake_ohif(directory: Path, version: str = viewer.OHIF_VERSION) -> Path:
    directory.mkdir(parents=True)
    (directory / viewer.VERSION_FILE).write_text(version + "\n")
    (directory / "index.html").write_text('<!doctype html><script src="/app-config.js"></script><div id="root"></div>')
    (directory / "app-config.js").write_text("window.config = {dataSources: [{qidoRoot: 'https://elsewhere'}]};")
    (directory / "app.bundle.0f61.js").write_text("console.log('ohif')")
    (directory / "app.bundle.0f61.js.gz").write_bytes(gzip.compress(b"console.log('ohif')"))
    (directory / "0ddf.wasm").write_bytes(b"\0asm\1\0\0\0")
    (directory / "manifest.json").write_text("{}")
    (directory / "_headers").write_text("/*\n")
    (directory / "assets").mkdir()
    (directory / "assets" / "favicon.ico").write_bytes(b"\0\0\1\0")
    return directory


def _with(runtime: Runtime, directory: Path | None) -> TestClient:
    viewer._installed.cache_clear()
    settings = replace(runtime.settings, viewer_dir=directory, public_url=PUBLIC)
    app = create_app(Runtime(settings, runtime.contract, runtime.database, runtime.store))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def exam(client: TestClient) -> StoredExamData:
    return store_ct_series(client, store_exam(client), count=2)


def _link(runtime: Runtime, exam: StoredExamData, **kwargs: float) -> str:
    return page_url("", Page.image, runtime.links.issue(Page.image, exam.record["hiImgIndx"], OTHER_INSTITUTION, **kwargs))


def _addresses(page: str) -> tuple[str, str]:
    viewer_address = json.loads(re.search(r"location\.replace\(gl && wide \? (\"[^\"]*\") :", page).group(1))  # type: ignore[union-attr]
    light = json.loads(re.search(r": (\"[^\"]*\")\);", page).group(1))  # type: ignore[union-attr]
    return viewer_address, light


def test_the_image_link_opens_ohif_on_the_exams_study_from_the_public_address(
    runtime: Runtime, exam: StoredExamData, tmp_path: Path
) -> None:
    client = _with(runtime, fake_ohif(tmp_path / "ohif"))
    link = _link(runtime, exam)
    answer = client.get(link)
    assert answer.status_code == 200 and "轻量查看" in answer.text
    address, light = _addresses(answer.text)
    token = link.split("?t=", 1)[1]
    assert light == f"{PUBLIC}/mie/image/light?t={token}"
    parts = urlsplit(address)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC}/viewer"
    assert query["StudyInstanceUIDs"] == [exam.record["studyUid"]]
    config_url = unquote(query["configUrl"][0])
    assert config_url == f"/mie/image/viewer-config/{token}"
    # the configuration may come from there, and from nowhere else
    script = client.get("/app-config.js")
    assert script.headers["content-type"].startswith("text/javascript")
    pattern = re.search(r"regex: /(.*)/ }", script.text).group(1).replace("\\/", "/")  # type: ignore[union-attr]
    assert re.match(pattern, config_url) and not re.match(pattern, "https://elsewhere/config.json")
    config = client.get(config_url).json()
    assert config["showStudyList"] is False and config["useSharedArrayBuffer"] == "FALSE"
    (source,) = config["dataSources"]
    assert config["defaultDataSourceName"] == source["sourceName"]
    settings = source["configuration"]
    root = settings["qidoRoot"]
    assert root.startswith(f"{PUBLIC}/dicom-web/t/")
    assert settings["wadoRoot"] == root and settings["wadoUriRoot"] == f"{root}/wado"
    assert settings["staticWado"] is True and settings["singlepart"] == "bulkdata" and settings["bulkDataURI"]["enabled"]
    # the root answers for the exam's study, read-only
    local = root.removeprefix(PUBLIC)
    studies = client.get(f"{local}/studies", params={"StudyInstanceUID": exam.record["studyUid"]})
    assert studies.status_code == 200 and len(studies.json()) == 1
    # the light page keeps its own address
    assert 'id="image"' in client.get(light.removeprefix(PUBLIC)).text


def test_ohifs_files_are_served_as_they_are_with_their_types(runtime: Runtime, tmp_path: Path) -> None:
    directory = fake_ohif(tmp_path / "ohif")
    client = _with(runtime, directory)
    types = {"app.bundle.0f61.js": "text/javascript", "0ddf.wasm": "application/wasm", "manifest.json": "application/json"}
    for name, kind in types.items():
        answer = client.get(f"/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"].split(";")[0] == kind, name
        assert answer.content == (directory / name).read_bytes()
    assert client.get("/assets/favicon.ico").content == b"\0\0\1\0"
    # bin/install-ohif's gzip copy, to a client that takes gzip; the file itself to one that does not
    packed = client.get("/app.bundle.0f61.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.content == b"console.log('ohif')"
    plain = client.get("/app.bundle.0f61.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == b"console.log('ohif')"
    assert client.get("/app.bundle.0f61.js.gz").status_code == 404
    (tmp_path / "secret").write_text("not OHIF's")
    assert client.get("/assets/%2e%2e/%2e%2e/secret").status_code == 404  # never a file outside OHIF's directory
    assert client.get("/_headers").status_code == 404
    # the viewer's page: OHIF's index.html as it is, with the policy OHIF needs; mie's pages keep theirs
    page = client.get("/viewer", params={"StudyInstanceUIDs": "1.2.3"})
    assert page.content == (directory / "index.html").read_bytes()
    policy = page.headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in policy and "worker-src 'self' blob:" in policy
    assert "OHIF" not in client.get("/app-config.js").text and "elsewhere" not in client.get("/app-config.js").text
    light_policy = client.get("/mie/image/light?t=x").headers["content-security-policy"]
    assert "wasm-unsafe-eval" not in light_policy and "worker-src" not in light_policy


def test_bad_and_expired_links_are_refused_on_the_viewers_way_too(runtime: Runtime, exam: StoredExamData, tmp_path: Path) -> None:
    client = _with(runtime, fake_ohif(tmp_path / "ohif"))
    expired = _link(runtime, exam, now=time.time() - runtime.links.ttl_seconds - 5)
    assert client.get(expired).status_code == 410 and "链接已过期" in client.get(expired).text
    token = expired.split("?t=", 1)[1]
    assert client.get(f"/mie/image/viewer-config/{token}").status_code == 410
    assert client.get("/mie/image/viewer-config/" + "A" * 60).status_code == 403


@pytest.mark.parametrize("version", [None, "3.0.0"])
def test_without_ohif_or_with_another_version_the_link_opens_the_light_page(
    runtime: Runtime, exam: StoredExamData, tmp_path: Path, version: str | None
) -> None:
    directory = fake_ohif(tmp_path / "ohif", version) if version else tmp_path / "nothing"
    client = _with(runtime, directory)
    page = client.get(_link(runtime, exam)).text
    assert 'id="image"' in page and "/viewer?" not in page
    assert client.get("/viewer").status_code == 404 and client.get("/app-config.js").status_code == 404
