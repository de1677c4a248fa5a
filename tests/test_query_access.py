"""Who may query (§2.6-§2.8, ERRATA E-QUERY-KEY): each way in, each refusal, and the audit of both."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from mie.cli import main
from mie.config import Settings
from mie.runtime import Runtime
from mie.service.access import KEY_REQUIRED, source_allowed
from mie.service.institutions import institution_sources
from mie.store.tables import SQLModel
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY, SAVE_EXAM, document_example, exam_message
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.retrieval_helpers import (
    ALLOWED,
    ELSEWHERE,
    QUERIER,
    QUERIER_KEY,
    QUERY_IMAGES,
    QUERY_INDEX,
    client_at,
    fetch_query,
    file_content,
    index_query,
    list_query,
    person_record,
    register_querier,
)
from tests.test_cli import free_port
from tests.test_images_http import upload

CERTNO = "110101197804050041"
UNREGISTERED = {"fixmedinsCode": "999999999999", "msgid": "999999999999202509230000000001"}


@pytest.fixture
def stored_exam(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    register_querier(runtime)
    record = person_record(CERTNO, psnName="John Doe", examDate="2024-04-04")
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    return record


def query(runtime: Runtime, address: str, **envelope_changes: Any) -> dict[str, Any]:
    message = index_query()
    message.update(envelope_changes)
    message = {name: value for name, value in message.items() if value is not None}
    answer = client_at(runtime, address).post(QUERY_INDEX, json=message)
    body = answer.json()
    assert answer.status_code == (200 if body["code"] == 0 else 401), body
    return body


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows of every table but the audit's."""
    with runtime.database.engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
            if name != "access_event"
        }


# --- ways in ------------------------------------------------------------------------------------------------------------


def test_the_document_envelope_from_an_allowed_address(runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    """E-QUERY-KEY: exactly what the document shows (no key), from an address in the institution's allow-list."""
    body = query(runtime, ALLOWED)
    assert body["code"] == 0 and [item["hiImgIndx"] for item in body["data"]] == [stored_exam["hiImgIndx"]]


def test_the_key_admits_from_anywhere(runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    assert query(runtime, ELSEWHERE, key=QUERIER_KEY)["code"] == 0
    assert query(runtime, "testclient", key=QUERIER_KEY)["code"] == 0  # not even an address


def test_an_ipv4_client_on_an_ipv6_socket_is_its_ipv4_address(runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    assert query(runtime, f"::ffff:{ALLOWED}")["code"] == 0
    assert source_allowed("2001:db8::5", ["2001:db8::/64"]) and not source_allowed("2001:db8:1::5", ["2001:db8::/64"])


def test_strict_mode_requires_the_key(runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    strict = dataclasses.replace(runtime, settings=dataclasses.replace(runtime.settings, require_query_key=True))
    body = query(strict, ALLOWED)
    assert body["code"] == 2001 and "要求查询报文带密钥 key" in body["message"]
    assert query(strict, ALLOWED, key=QUERIER_KEY)["code"] == 0


# --- refusals ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "changes", "says"),
    [
        (ELSEWHERE, {}, f"来源地址 {ELSEWHERE} 不在机构 {QUERIER} 的允许列表中"),
        ("testclient", {}, "来源地址 testclient 不在"),
        (
            ALLOWED,
            {"fixmedinsCode": "999999999999", "msgid": "999999999999202509230000000001"},
            "不在机构 999999999999 的允许列表中",
        ),
        (ALLOWED, {"key": "not-the-key"}, "机构编号或密钥错误"),  # a key sent is checked, even from an allowed address
        (ALLOWED, {"key": OTHER_KEY}, "机构编号或密钥错误"),  # another institution's key
        (ALLOWED, {**UNREGISTERED, "key": QUERIER_KEY}, "密钥错误"),
    ],
    ids=["address-not-allowed", "no-address", "unregistered", "wrong-key", "other-institutions-key", "unregistered-with-key"],
)
def test_each_refusal_names_its_reason_and_stores_nothing(
    runtime: Runtime, stored_exam: dict[str, Any], address: str, changes: dict[str, Any], says: str
) -> None:
    before = row_counts(runtime)
    body = query(runtime, address, **changes)
    assert body["code"] == 2001 and body["type"] == "error" and says in body["message"]
    assert CERTNO not in str(body)
    assert row_counts(runtime) == before
    [event] = runtime.audit.events()
    assert (event["action"], event["outcome"], event["source_address"]) == ("query-index", "refused", address)
    assert event["person_masked"] == "111:110101*****0041"  # whose data was asked for, refused or not


def test_another_registered_institution_needs_its_own_allow_list(runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    body = query(runtime, ALLOWED, fixmedinsCode=OTHER_INSTITUTION, msgid=f"{OTHER_INSTITUTION}202509230000000001")
    assert body["code"] == 2001
    assert query(runtime, ALLOWED, fixmedinsCode=OTHER_INSTITUTION, key=OTHER_KEY)["code"] == 0


def test_images_follow_the_same_rules(client: TestClient, runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    data = part10_bytes(make_instance(stored_exam["studyUid"]))
    assert upload(client, stored_exam, data, imageTotalNum="1").json()["code"] == 0
    allowed, elsewhere = client_at(runtime, ALLOWED), client_at(runtime, ELSEWHERE)
    listed = allowed.post(QUERY_IMAGES, json=list_query(stored_exam["hiImgIndx"])).json()["data"]["imgFileSnList"]
    fetch = fetch_query(stored_exam["hiImgIndx"], listed[0])
    assert elsewhere.post(QUERY_IMAGES, json=list_query(stored_exam["hiImgIndx"])).json()["code"] == 2001
    refused = elsewhere.post(QUERY_IMAGES, json=fetch)
    assert refused.status_code == 401 and refused.json()["code"] == 2001 and "fileContent" not in refused.text
    assert md5(file_content(elsewhere.post(QUERY_IMAGES, json={**fetch, "key": QUERIER_KEY}).json())) == md5(data)
    assert md5(file_content(allowed.post(QUERY_IMAGES, json=fetch).json())) == md5(data)


# --- the audit -------------------------------------------------------------------------------------------------------------


def test_every_call_is_audited(client: TestClient, runtime: Runtime, stored_exam: dict[str, Any]) -> None:
    data = part10_bytes(make_instance(stored_exam["studyUid"]))
    assert upload(client, stored_exam, data, imageTotalNum="1").json()["code"] == 0
    querier = client_at(runtime, ALLOWED)
    index = stored_exam["hiImgIndx"]
    assert querier.post(QUERY_INDEX, json=index_query()).json()["code"] == 0
    listed = querier.post(QUERY_IMAGES, json=list_query(index)).json()["data"]["imgFileSnList"]
    assert querier.post(QUERY_IMAGES, json=fetch_query(index, listed[0])).json()["code"] == 0
    assert querier.post(QUERY_IMAGES, json=fetch_query(index, {**listed[0], "instUuid": "1.2.3"})).json()["code"] == 3009
    assert querier.post(QUERY_INDEX, json=index_query(begntime="2025-01-01", endtime="2024-01-01")).json()["code"] == 1003
    events = runtime.audit.events(person=("111", CERTNO))
    summary = [(e["action"], e["outcome"], e["items"], e["bytes_sent"], e["institution_code"]) for e in events]
    assert summary == [
        ("query-index", "ok", 1, 0, QUERIER),
        ("list-images", "ok", 1, 0, QUERIER),
        ("fetch-image", "ok", 1, len(data), QUERIER),
        ("fetch-image", "refused", 0, 0, QUERIER),
        ("query-index", "refused", 0, 0, QUERIER),
    ]
    assert all(e["source_address"] == ALLOWED for e in events)
    assert events[1]["hi_img_indx_masked"] and CERTNO not in str(events)
    assert "begntime" in events[4]["detail"] and "影像文件不属于该索引" in events[3]["detail"]


# --- the allow-list ------------------------------------------------------------------------------------------------------


def test_mie_institution_allow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["institution", "add", QUERIER, "--key", QUERIER_KEY, "--allow", "10.1.2.3", "--data-dir", data]) == 0
    assert main(["institution", "allow", QUERIER, "10.9.0.0/16", "2001:db8::/64", "--data-dir", data]) == 0
    assert main(["institution", "allow", QUERIER, "10.1.2.3", "--remove", "--data-dir", data]) == 0
    assert main(["institution", "allow", "999999999999", "10.1.2.3", "--data-dir", data]) == 1
    assert main(["institution", "allow", QUERIER, "banana", "--data-dir", data]) == 2
    assert main(["institution", "add", QUERIER, "--key", QUERIER_KEY, "--allow", "10.1.2.300", "--data-dir", data]) == 2
    runtime = Runtime.open(Settings(data_dir=Path(data)), recover=False)
    assert institution_sources(runtime.database, QUERIER) == ["10.9.0.0/16", "2001:db8::/64"]
    runtime.database.dispose()
    assert "may query without a key from 10.9.0.0/16, 2001:db8::/64" in capsys.readouterr().out


def test_every_worker_of_mie_serve_keeps_strict_mode_and_the_public_url(tmp_path: Path) -> None:
    """`mie serve --workers 2`: the settings of queries reach each worker process (they read MIE_ variables)."""
    data = tmp_path / "data"
    for code, key in ((INSTITUTION, KEY), (QUERIER, QUERIER_KEY)):
        assert main(["institution", "add", code, "--key", key, "--allow", "127.0.0.1", "--data-dir", str(data)]) == 0
    port = free_port()
    command = [sys.executable, "-m", "mie.cli", "serve", "--http-port", str(port), "--dicom-port", "0", "--workers", "2"]
    command += ["--require-query-key", "--public-url", "http://10.0.0.1:9999/", "--data-dir", str(data), "--no-access-log"]
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert httpx.post(base + SAVE_EXAM, json=document_example(), timeout=30).json()["code"] == 0
        person = {"psnName": None, "certno": "110101197804050038", "begntime": None, "endtime": None}
        for _ in range(6):  # the workers take turns
            refused = httpx.post(base + QUERY_INDEX, json=index_query(**person), timeout=30).json()
            assert refused["code"] == 2001 and KEY_REQUIRED in refused["message"]
            answer = httpx.post(base + QUERY_INDEX, json={**index_query(**person), "key": QUERIER_KEY}, timeout=30).json()
            assert [item["imgDldLink"] for item in answer["data"]] == [f"http://10.0.0.1:9999{QUERY_IMAGES}"]
    finally:
        server.terminate()
        server.wait(timeout=30)
