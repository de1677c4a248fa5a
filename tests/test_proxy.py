"""`mie proxy`: between a sender and a real `mie serve`, and in front of stand-in upstreams that record what reaches
them or answer outside the spec: bytes pass unchanged both ways, and each violation is logged in the spec's terms."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mie.config import Settings
from mie.contract import current
from mie.runtime import Runtime
from mie.service.institutions import add_institution, allow_sources
from mie.toolkit.proxy import ClippedJSON, Options, Violation, ViolationLog, create_app
from tests.conftest import (
    INSTITUTION,
    KEY,
    SAVE_EXAM,
    document_example,
    exam_message,
    exam_record,
    img_info_message,
    served_in_thread,
)
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.retrieval_helpers import QUERIER, QUERY_IMAGES, QUERY_INDEX, fetch_query, index_query, list_query
from tests.spec_revision import write_v15_dir
from tests.test_cli import free_port
from tests.test_crash import start_server
from tests.test_images_http import SAVE_IMG_FILE, SAVE_IMG_INFO, headers
from tests.test_reports import upload as upload_report

CONTRACT = current()

MIE = [sys.executable, "-m", "mie.cli"]


class Collected(ViolationLog):
    """Violations kept in a list (and written as JSON lines when a path is given)."""

    def __init__(self, json_path: Path | None = None) -> None:
        super().__init__(json_path)
        self.violations: list[Violation] = []

    def record(self, violation: Violation) -> None:
        self.violations.append(violation)
        super().record(violation)

    def take(self) -> list[Violation]:
        taken, self.violations = self.violations, []
        return taken


@contextmanager
def running(app: Any) -> Iterator[str]:
    with served_in_thread(app, lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def proxy_to(upstream: str, strict: bool = False, json_path: Path | None = None) -> Iterator[tuple[str, Collected]]:
    sink = Collected(json_path)
    with running(create_app(Options(upstream, strict=strict, timeout=10), sink)) as base:
        yield base, sink


@pytest.fixture(scope="module")
def mie_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real processor; the document's querying institution may ask from this machine without a key."""
    tmp_path = tmp_path_factory.mktemp("upstream")
    data_dir, database = tmp_path / "data", f"sqlite:///{tmp_path / 'upstream.sqlite3'}"
    # Registered in this process (as `mie institution add` does): two interpreters fewer to start.
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database))
    add_institution(runtime.database, INSTITUTION, KEY)
    add_institution(runtime.database, QUERIER, "query-key")
    allow_sources(runtime.database, QUERIER, ["127.0.0.1"])
    runtime.database.dispose()
    port = free_port()
    server = start_server(data_dir, database, port, 0)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


Answer = Callable[[Request, bytes], Response]


def each_record_taken(request: Request, body: bytes) -> Response:
    """What a processor answers a message taken whole: one success per record, in order."""
    records = json.loads(body)["input"]
    data = [{"hiImgIndx": record["hiImgIndx"], "succFlag": "1", "message": "成功"} for record in records]
    return json_answer({"code": 0, "type": "success", "message": "成功", "data": data})


class StandIn:
    """An upstream that records every request it gets (method, path with query, headers, body) and answers it with
    `self.answer`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answer: Answer = each_record_taken

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            self.received.append((request.method, target, dict(request.headers), body))
            return self.answer(request, body)

        return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])


@dataclass
class Behind:
    """A stand-in upstream with an observing proxy and a strict one in front of it, sharing one sink."""

    upstream: StandIn
    observing: str
    strict: str
    sink: Collected


@pytest.fixture(scope="module")
def proxies() -> Iterator[Behind]:
    upstream, sink = StandIn(), Collected()
    with running(upstream.app()) as base:
        with running(create_app(Options(base, timeout=10), sink)) as observing:
            with running(create_app(Options(base, strict=True, timeout=10), sink)) as strict:
                yield Behind(upstream, observing, strict, sink)


@pytest.fixture
def behind(proxies: Behind) -> Behind:
    proxies.upstream.received.clear()
    proxies.upstream.answer = each_record_taken
    proxies.sink.violations.clear()
    return proxies


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False).encode(), status, media_type="application/json")


def field(schema_name: str, code: str) -> dict[str, Any]:
    return CONTRACT.component(schema_name)["properties"][code]


# --- a real processor behind the proxy ----------------------------------------------------------------------------


def test_valid_messages_of_every_transaction_pass_without_a_violation(mie_serve: str) -> None:
    """§2.1 → §2.3 → §2.2 → §2.4 → §2.6 → §2.7 → §2.8 → §2.5, each message as the document's example has it (a fresh
    msgid and index): every answer is mie's own, and neither a request nor an answer breaks a rule."""
    record = exam_record()
    with proxy_to(mie_serve) as (base, sink), httpx.Client(base_url=base, timeout=30) as client:
        assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
        assert client.post(SAVE_IMG_INFO, json=img_info_message(record)).json()["code"] == 0
        dicom = part10_bytes(make_instance(record["studyUid"]))
        form = {
            "hiImgIdx": record["hiImgIndx"],
            "studyUid": record["studyUid"],
            "accessionNumber": "114649960",
            "fileMd5": md5(dicom).upper(),
            "imageTotalNum": "1",
        }
        stored = client.post(SAVE_IMG_FILE, headers=headers(), data=form, files={"dicom": ("ct.dcm", dicom, "application/dicom")})
        assert stored.json()["code"] == 0, stored.text
        report = upload_report(client, record)  # type: ignore[arg-type]  # an httpx client posts as a TestClient does
        assert report.json()["code"] == 0, report.text
        found = client.post(
            QUERY_INDEX, json=index_query(certno=record["certno"], psnName=record["psnName"], begntime=None, endtime=None)
        ).json()
        assert found["code"] == 0 and [exam["hiImgIndx"] for exam in found["data"]] == [record["hiImgIndx"]]
        listed = client.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()
        assert listed["code"] == 0 and len(listed["data"]["imgFileSnList"]) == 1
        fetched = client.post(QUERY_IMAGES, json=fetch_query(record["hiImgIndx"], listed["data"]["imgFileSnList"][0])).json()
        assert base64.b64decode(fetched["data"]["fileContent"]) == dicom
        delete = document_example("/mie/api/mie/deleteExamRpotImgIdxInfo")
        delete.update(infCode=INSTITUTION, key=KEY, msgid=exam_message()["msgid"], input=[record["hiImgIndx"]])
        assert client.post("/mie/api/mie/deleteExamRpotImgIdxInfo", json=delete).json()["code"] == 0
    assert [violation.line() for violation in sink.violations] == []


def test_a_too_long_field_is_forwarded_and_logged_in_the_specs_terms(mie_serve: str, tmp_path: Path) -> None:
    name = field("ExamRpotImgInfo", "psnName")
    record = exam_record(psnName="张" * (name["maxLength"] + 1))
    log = tmp_path / "violations.jsonl"
    with proxy_to(mie_serve, json_path=log) as (base, sink):
        answer = httpx.post(base + SAVE_EXAM, json=exam_message(record), timeout=30).json()
    # It reached the processor, which refused the record on its own (observing changes nothing).
    assert answer["data"][0]["succFlag"] == "-1" and "psnName" in answer["data"][0]["message"]
    [violation] = sink.violations
    assert violation.direction == "request" and violation.transaction == "saveExamRpotImgInfo"
    finding = violation.finding
    assert (finding.code, finding.title, finding.seq, finding.rule, finding.severity) == (
        "psnName",
        name["title"],
        f"#{name['x-seq']}",
        "maxLength",
        "error",
    )
    assert finding.where == "$.input[0].psnName"
    line = violation.line()
    assert f"psnName({name['title']},#{name['x-seq']})" in line and "[maxLength]" in line and "请求 saveExamRpotImgInfo" in line
    [logged] = [json.loads(text) for text in log.read_text(encoding="utf-8").splitlines()]
    assert logged["direction"] == "request" and logged["code"] == "psnName" and logged["seq"] == f"#{name['x-seq']}"
    assert logged["msgid"] == violation.msgid and logged["rule"] == "maxLength"


# --- stand-in upstreams --------------------------------------------------------------------------------------------


def test_requests_and_answers_pass_byte_for_byte(behind: Behind) -> None:
    """Method, path, query, headers and a multipart body of several MiB reach the upstream as sent; a §2.8 answer
    of several MiB of Base64 comes back as the upstream sent it, with its headers, and its envelope is checked."""
    upstream, sink = behind.upstream, behind.sink
    content = random.Random(8).randbytes(3 * 1024 * 1024)
    message = fetch_query(
        "111-110101197804050038-20241122143000-0000000000000-000000000", {"examUuid": "1", "snUuid": "2", "instUuid": "3"}
    )
    big = {"code": 0, "type": "success", "message": "成功", "data": {"hiImgIndx": message["input"]["hiImgIndx"]}}
    big["data"].update(areaCode=None, imgDldLink=None, imgFileSnList=None, fileContent=base64.b64encode(content).decode())
    answer_bytes = json.dumps(big, ensure_ascii=False).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(answer_bytes), 65536):
            yield answer_bytes[start : start + 65536]

    upstream.answer = lambda request, body: StreamingResponse(
        chunks(), headers={"x-upstream": "1"}, media_type="application/json"
    )
    with httpx.Client(base_url=behind.observing, timeout=30) as client:
        sent = json.dumps(message).encode()
        answer = client.post(
            QUERY_IMAGES + "?trace=a%20b&x=1",
            content=sent,
            headers={"content-type": "application/json", "x-his": "his-7", "connection": "x-hop", "x-hop": "1"},
        )
        assert answer.status_code == 200 and answer.content == answer_bytes
        assert answer.headers["x-upstream"] == "1" and answer.headers["content-type"] == "application/json"
        method, target, got_headers, body = upstream.received[-1]
        assert (method, target, body) == ("POST", QUERY_IMAGES + "?trace=a%20b&x=1", sent) and got_headers["x-his"] == "his-7"
        assert "x-hop" not in got_headers  # named by Connection: hop-by-hop, not passed on

        upload = part10_bytes(make_instance("1.2.3.4"))
        upload += b"\0" * (4 * 1024 * 1024)  # a large file: the proxy streams it, hashing it on the way
        form = {"hiImgIdx": message["input"]["hiImgIndx"], "studyUid": "1.2.3.4", "accessionNumber": "114649960"}
        form.update(fileMd5=md5(upload).upper(), imageTotalNum="1")
        upstream.answer = lambda request, body: json_answer({"code": 0, "hiImgIndx": form["hiImgIdx"], "message": "成功"})
        request = client.build_request("POST", SAVE_IMG_FILE, headers=headers(), data=form, files={"dicom": ("ct.dcm", upload)})
        raw = request.read()
        assert client.send(request).json()["code"] == 0
        assert upstream.received[-1][3] == raw and upstream.received[-1][2]["content-type"] == request.headers["content-type"]
    assert [violation.line() for violation in sink.violations] == []


def test_a_bad_upload_is_logged_by_its_header_form_field_and_file(behind: Behind) -> None:
    """An upload of several MiB, of which the proxy keeps only the head: a header out of format, an MD5 that is
    not the file's, and a studyUid that is not the one in the file's DICOM header, each named by its field."""
    upstream, sink = behind.upstream, behind.sink
    upstream.answer = lambda request, body: json_answer({"code": 0, "hiImgIndx": "x", "message": "成功"})
    upload = part10_bytes(make_instance("1.2.3.4")) + b"\0" * (3 * 1024 * 1024)
    form = {"hiImgIdx": "111-110101197804050038-20241122143000-0000000000000-000000000", "studyUid": "1.2.3.5"}
    form.update(accessionNumber="114649960", fileMd5="0" * 32, imageTotalNum="1")
    files = {"dicom": ("ct.dcm", upload)}
    httpx.post(behind.observing + SAVE_IMG_FILE, headers=headers(infTime="2025/03/03"), data=form, files=files, timeout=30)
    assert len(upstream.received) == 1 and upstream.received[0][1] == SAVE_IMG_FILE
    found = {(v.finding.where, v.finding.code, v.finding.rule): v for v in sink.violations}
    assert set(found) == {
        ("$.headers.infTime", "infTime", "format"),
        ("$.form.fileMd5", "fileMd5", "md5"),
        ("$.form.studyUid", "studyUid", "fileMismatch"),
    }
    assert md5(upload) in found[("$.form.fileMd5", "fileMd5", "md5")].finding.message
    assert "1.2.3.4" in found[("$.form.studyUid", "studyUid", "fileMismatch")].finding.message
    assert all(v.transaction == "saveImgFile" and v.direction == "request" and v.msgid for v in sink.violations)


def test_strict_refuses_a_request_with_errors_in_the_specs_envelope(behind: Behind) -> None:
    upstream, sink = behind.upstream, behind.sink
    name = field("ExamRpotImgInfo", "psnName")
    message = exam_message(exam_record(psnName="张" * (name["maxLength"] + 1)))
    with httpx.Client(base_url=behind.strict, timeout=30) as client:
        refused = client.post(SAVE_EXAM, json=message)
        bad_file = client.post(
            SAVE_IMG_FILE,
            headers=headers(),
            data={
                "hiImgIdx": "111-110101197804050038-20241122143000-0000000000000-000000000",
                "studyUid": "1.2.3.4",
                "accessionNumber": "114649960",
                "fileMd5": "0" * 32,
                "imageTotalNum": "1",
            },  # fmt: skip
            files={"dicom": ("ct.dcm", part10_bytes(make_instance("1.2.3.4")))},
        )
        valid = client.post(SAVE_EXAM, json=exam_message(exam_record()))
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"
    body = refused.json()
    assert (body["code"], body["type"]) == (1003, "error") and f"psnName({name['title']},#{name['x-seq']})" in body["message"]
    assert [(error["code"], error["rule"]) for error in body["data"]] == [("psnName", "maxLength")]
    assert bad_file.status_code == 400 and bad_file.json()["code"] == 3003  # file_md5_mismatch, as the processor says
    # Neither refused request reached the upstream; the valid one did.
    assert [target for _, target, _, _ in upstream.received] == [SAVE_EXAM] and valid.json()["code"] == 0
    assert [v.finding.rule for v in sink.violations] == ["maxLength", "md5"]


def test_strict_holds_a_large_upload_on_disk_and_forwards_it_byte_for_byte(behind: Behind) -> None:
    upstream, sink = behind.upstream, behind.sink
    index = "111-110101197804050038-20241122143000-0000000000000-000000000"
    upstream.answer = lambda request, body: json_answer({"code": 0, "hiImgIndx": index, "message": "成功"})
    upload = part10_bytes(make_instance("1.2.3.4")) + b"\0" * (3 * 1024 * 1024)
    form = {
        "hiImgIdx": index,
        "studyUid": "1.2.3.4",
        "accessionNumber": "114649960",
        "fileMd5": md5(upload),
        "imageTotalNum": "1",
    }
    with httpx.Client(base_url=behind.strict, timeout=30) as client:
        request = client.build_request("POST", SAVE_IMG_FILE, headers=headers(), data=form, files={"dicom": ("ct.dcm", upload)})
        raw = request.read()
        assert client.send(request).json()["code"] == 0
    assert [received[3] for received in upstream.received] == [raw] and sink.violations == []


@pytest.mark.parametrize(
    ("answer", "rule", "code"),
    [
        (lambda request, body: json_answer({"ok": True}), "required", "code"),
        (lambda request, body: json_answer({"code": 0, "type": "success", "message": "成功", "data": []}), "perRecord", "data"),
        (lambda request, body: Response(b"<html>busy</html>", 200, media_type="text/html"), "contentType", ""),
        (
            lambda request, body: json_answer({"code": 3002, "type": "error", "message": "x", "data": None}, 400),
            "httpStatus",
            "code",
        ),
        (
            lambda request, body: json_answer({"code": 0, "type": "success", "message": "ok", "data": [{"succFlag": "Y"}]}),
            "enum",
            "succFlag",
        ),
    ],
    ids=["outside the envelope", "a missing per-record answer", "an HTML page", "code with another status", "succFlag"],
)
def test_a_broken_answer_is_logged_as_an_answer_violation(behind: Behind, answer: Answer, rule: str, code: str) -> None:
    upstream, sink = behind.upstream, behind.sink
    upstream.answer = answer
    got = httpx.post(behind.observing + SAVE_EXAM, json=exam_message(exam_record()), timeout=30)
    assert got.content == answer(None, b"").body  # passed on unchanged all the same  # type: ignore[arg-type]
    violations = [v for v in sink.violations if v.finding.rule == rule]
    assert violations, [v.line() for v in sink.violations]
    assert all(v.direction == "answer" and v.status == got.status_code for v in sink.violations)
    assert violations[0].finding.code == code and violations[0].line().startswith("应答 saveExamRpotImgInfo (§2.1)")


def test_the_command_holds_traffic_to_a_revision_and_answers_502_when_the_upstream_is_gone(tmp_path: Path) -> None:
    """`mie proxy` itself, with --spec (the V1.5 draft: rpotNo lengthened to 100, §2.3's modality required) and
    --log-json, in front of a stand-in; then in front of nothing once the stand-in has stopped."""
    spec, violations_file, log = write_v15_dir(tmp_path / "v15"), tmp_path / "violations.jsonl", tmp_path / "proxy.log"
    port = free_port()
    upstream = StandIn()
    with running(upstream.app()) as upstream_base:
        command = [*MIE, "proxy", "--upstream", upstream_base, "--port", str(port), "--timeout", "5"]
        with log.open("w") as output:
            command += ["--spec", str(spec), "--log-json", str(violations_file)]
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    longer = httpx.post(base + SAVE_EXAM, json=exam_message(exam_record(rpotNo="R" * 80)), timeout=10)
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and process.poll() is None, log.read_text()
                    time.sleep(0.2)
            no_modality = httpx.post(base + SAVE_IMG_INFO, json=img_info_message(exam_record()), timeout=10)
        except BaseException:
            process.terminate()
            raise
    try:
        gone = httpx.post(f"http://127.0.0.1:{port}{SAVE_EXAM}", json=exam_message(exam_record()), timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert longer.status_code == no_modality.status_code == 200 and len(upstream.received) == 2
    # An 80-character rpotNo is V1.4's error and V1.5's right; a §2.3 record without modality the other way round.
    logged = [json.loads(line) for line in violations_file.read_text(encoding="utf-8").splitlines()]
    assert [(v["transaction"], v["direction"], v["code"], v["rule"]) for v in logged] == [
        ("saveImgInfo", "request", "modality", "required")
    ]
    assert gone.status_code == 502 and gone.headers["content-type"] == "application/json"
    body = gone.json()
    assert (body["code"], body["type"], body["data"]) == (5003, "error", None) and upstream_base in body["message"]
    assert "无法连接" in log.read_text() and "input[0].modality" in log.read_text()


# --- the answer copy with long strings cut ------------------------------------------------------------------------


def test_long_strings_are_cut_at_a_character_never_inside_an_escape() -> None:
    chooser = random.Random(3)
    # (no character beyond the BMP: cut between its two \u escapes, a string keeps half of it, no prefix of the str)
    alphabet = ["a", "张", "\\", '"', "\n", "\u00e9", "/"]
    for _ in range(200):
        value = {
            "short": "".join(chooser.choice("ab") for _ in range(chooser.randrange(0, 30))),
            "long": "".join(chooser.choice(alphabet) for _ in range(chooser.randrange(40, 400))),
            "n": [1, None, True],
        }
        text = json.dumps(value, ensure_ascii=chooser.random() < 0.5).encode()
        clipped = ClippedJSON(keep=32)
        position = 0
        while position < len(text):  # in chunks of random sizes: a cut may fall anywhere
            step = chooser.randrange(1, 50)
            clipped.feed(text[position : position + step])
            position += step
        kept = json.loads(bytes(clipped.kept).decode("utf-8"))
        assert kept["short"] == value["short"] and kept["n"] == value["n"]
        assert value["long"].startswith(kept["long"]) and len(kept["long"].encode()) >= 1


def test_a_base64_file_answer_is_not_kept_only_its_envelope() -> None:
    content = base64.b64encode(random.Random(5).randbytes(4 * 1024 * 1024)).decode()
    answer = {"code": 0, "type": "success", "message": "成功", "data": {"hiImgIndx": "x", "fileContent": content}}
    text = json.dumps(answer, ensure_ascii=False).encode()
    clipped = ClippedJSON()
    for start in range(0, len(text), 65536):
        clipped.feed(text[start : start + 65536])
    assert clipped.size == len(text) and len(clipped.kept) < 70 * 1024 and clipped.cut == 1
    kept = json.loads(bytes(clipped.kept))
    assert {**kept["data"], "fileContent": content} == answer["data"] and content.startswith(kept["data"]["fileContent"])


def test_wrong_usage_exits_2_before_listening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mie.cli import EXIT_USAGE, main

    assert main(["proxy", "--upstream", "10.0.0.5:8080"]) == EXIT_USAGE
    assert main(["proxy", "--upstream", "http://10.0.0.5:8080", "--spec", str(tmp_path)]) == EXIT_USAGE
    assert main(["proxy", "--upstream", "http://10.0.0.5:8080", "--timeout", "0"]) == EXIT_USAGE
    errors = capsys.readouterr().err
    assert "http://" in errors and "openapi.yaml" in errors and "--timeout" in errors


def test_an_upstream_slower_than_the_timeout_is_a_504_in_the_envelope() -> None:
    upstream = StandIn()

    def slow(request: Request, body: bytes) -> Response:
        time.sleep(1.0)
        return each_record_taken(request, body)

    upstream.answer = slow
    with running(upstream.app()) as upstream_base:
        with running(create_app(Options(upstream_base, timeout=0.2), Collected())) as base:
            answer = httpx.post(base + SAVE_EXAM, json=exam_message(exam_record()), timeout=10)
    assert answer.status_code == 504 and answer.json()["code"] == 5003 and "0.2 秒" in answer.json()["message"]
