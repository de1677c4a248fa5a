"""`mie conformance`: clean against a real `mie serve` (SQLite and PostgreSQL), and failing, with the right
finding, against stand-in servers that each break one rule of the spec (a proxy in front of `mie serve`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mie.contract import current
from mie.toolkit.conformance import EXIT_NOT_STARTED, Institution, Options, Report, Runner, run
from mie.toolkit.conformance_report import Finding
from mie.toolkit.conformance_report import Request as Sent
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY, POSTGRES_URL, own_postgres_schema, served_in_thread
from tests.test_cli import free_port
from tests.test_crash import start_server

CONTRACT = current()

MIE = [sys.executable, "-m", "mie.cli"]
# Small and fixed: the same cases on every run, a bounded time in CI.
SEED, EXAMPLES = "7", "2"


CALLING_AE = "CONFORMANCE"  # the AE title the first institution sends images from


def serve(tmp_path: Path, database_url: str, dicom_port: int = 0) -> tuple[subprocess.Popen[str], str]:
    data_dir = tmp_path / "data"
    for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, OTHER_KEY)):
        add = [*MIE, "institution", "add", code, "--key", key, "--data-dir", str(data_dir), "--database-url", database_url]
        if code == INSTITUTION:
            add += ["--ae-title", CALLING_AE]
        subprocess.run(add, check=True, capture_output=True)
    port = free_port()
    return start_server(data_dir, database_url, port, dicom_port), f"http://127.0.0.1:{port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'conformance.sqlite3'}"
        return
    with own_postgres_schema("mie_conformance") as schema:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def test_mie_serve_is_clean(tmp_path: Path, database_url: str) -> None:
    scp_port = free_port()
    server, base = serve(tmp_path, database_url, scp_port)
    junit, report = tmp_path / "conformance.xml", tmp_path / "conformance.json"
    try:
        command = [*MIE, "conformance", base, "--institution", INSTITUTION, "--key", KEY, "--institution", OTHER_INSTITUTION]
        command += ["--key", OTHER_KEY, "--seed", SEED, "--max-examples", EXAMPLES]
        # the DICOM phase after every other one (which saved and registered the spec's example study again and again)
        command += ["--dicom", f"127.0.0.1:{scp_port}", "--called-ae", "MIE", "--calling-ae", CALLING_AE]
        result = subprocess.run(
            [*command, "--junit", str(junit), "--json", str(report)], capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("mie conformance: 符合规范")
    summary = json.loads(report.read_text(encoding="utf-8"))
    assert summary["clean"] and summary["cases"] > 100
    # Every transaction of the spec was exercised, the chain included (§2.6-§2.8 answer 501 on this branch).
    tests = summary["transactions"]
    assert {"saveExamRpotImgInfo", "saveImgFile", "saveImgInfo", "saveRptFile", "deleteExamRpotImgIdxInfo"} <= set(tests)
    assert tests["saveImgFile"]["tests"]["chain 4 upload"] == 1 and tests["saveExamRpotImgInfo"]["tests"]["replay"] == 3
    assert tests["deleteExamRpotImgIdxInfo"]["tests"]["chain 3c another institution deletes"] == 1
    assert any(name.startswith("field input[0].examPart") for name in tests["saveExamRpotImgInfo"]["tests"])
    assert tests["C-STORE"]["tests"]["dicom 4 store"] == 1 and tests["queryImgCaheFIndex"]["tests"]["dicom 6 fetch"] == 1

    root = ElementTree.parse(junit).getroot()  # a real XML parser reads what CI's JUnit readers read
    assert root.tag == "testsuites" and root.get("failures") == "0"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert "§2.1 saveExamRpotImgInfo" in suites
    assert all(suite.get("failures") == "0" for suite in suites.values())
    names = {case.get("name") for case in suites["§2.1 saveExamRpotImgInfo"].iter("testcase")}
    assert {"fuzz positive", "fuzz negative", "replay", "chain 1 save"} <= names


def test_a_run_that_cannot_start_exits_2(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [*MIE, "conformance", closed, "--institution", INSTITUTION, "--key", KEY], capture_output=True, text=True
    )
    assert result.returncode == EXIT_NOT_STARTED and "没有应答: 连接被拒绝" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    result = subprocess.run([*MIE, "conformance", closed, "--institution", INSTITUTION], capture_output=True, text=True)
    assert result.returncode == EXIT_NOT_STARTED
    result = subprocess.run(
        [*MIE, "conformance", closed, "--institution", INSTITUTION, "--key", KEY, "--transactions", "noSuchTransaction"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == EXIT_NOT_STARTED and "noSuchTransaction" in result.stderr


# --- stand-in servers: `mie serve` behind a proxy that breaks one rule -------------------------------------

Fault = Callable[[str, Any, int, Any], tuple[int, Any] | None]  # (path, request JSON, status, answer JSON) -> new answer


UPSTREAM_SCP_PORT = free_port()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mie serve`, its C-STORE SCP on UPSTREAM_SCP_PORT (AE title MIE)."""
    tmp_path = tmp_path_factory.mktemp("upstream")
    server, base = serve(tmp_path, f"sqlite:///{tmp_path / 'upstream.sqlite3'}", UPSTREAM_SCP_PORT)
    yield base
    server.terminate()
    server.wait(timeout=30)


def proxy(upstream: str, fault: Fault, rewrite: Callable[[str, Any], Any] | None = None) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=30)

    async def forward(request: Request) -> Response:
        body = await request.body()
        sent: Any = None
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                sent = json.loads(body)
            except ValueError:
                sent = None
            if rewrite is not None and sent is not None:
                sent = rewrite(request.url.path, sent)
                body = json.dumps(sent, ensure_ascii=False).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await client.request(request.method, request.url.path, content=body, headers=headers)
        try:
            parsed = answer.json()
        except ValueError:
            return Response(answer.content, answer.status_code, media_type=answer.headers.get("content-type"))
        changed = fault(request.url.path, sent, answer.status_code, parsed)
        status, parsed = changed if changed is not None else (answer.status_code, parsed)
        return Response(json.dumps(parsed, ensure_ascii=False), status, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])


def check_against(
    upstream: str,
    fault: Fault,
    transactions: list[str],
    rewrite: Callable[[str, Any], Any] | None = None,
    institutions: tuple[Institution, ...] = (Institution(INSTITUTION, KEY),),
) -> Report:
    with served_in_thread(proxy(upstream, fault, rewrite)) as port:
        options = Options(f"http://127.0.0.1:{port}", list(institutions), transactions=transactions, max_examples=1, seed=7)
        return run(options)


def findings(report: Report, check: str, transaction: str) -> list[Any]:
    return [finding for finding in report.findings if finding.check == check and finding.transaction == transaction]


def test_a_server_error_on_one_fields_bad_value_is_found(upstream: str) -> None:
    genders = set(CONTRACT.component("ExamRpotImgInfo")["properties"]["gend"]["enum"])

    def fault(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any] | None:
        records = sent.get("input") if isinstance(sent, dict) else None
        if path.endswith("saveExamRpotImgInfo") and isinstance(records, list):
            if any(isinstance(r, dict) and "gend" in r and r["gend"] not in genders for r in records):
                return 500, {"code": 5000, "type": "error", "message": "前置机内部错误", "data": None}
        return None

    report = check_against(upstream, fault, ["saveExamRpotImgInfo"])
    assert report.exit_code() == 1
    found = [f for f in findings(report, "server-error", "saveExamRpotImgInfo") if f.field is not None]
    assert found and {f.field.code for f in found} == {"gend"}
    assert found[0].field.title == "性别" and found[0].field.seq == "#5" and found[0].status == 500
    assert "curl -sS -X POST" in found[0].curl and "saveExamRpotImgInfo" in found[0].curl
    assert "input[0].gend(性别,#5)" in report.summary()


def test_a_missing_per_record_answer_is_found(upstream: str) -> None:
    def fault(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any] | None:
        if path.endswith("saveImgInfo") and isinstance(answer, dict) and isinstance(answer.get("data"), list) and answer["data"]:
            return status, {**answer, "data": answer["data"][:-1]}
        return None

    report = check_against(upstream, fault, ["saveImgInfo"])
    found = findings(report, "per-record", "saveImgInfo")
    assert report.exit_code() == 1 and found
    assert "发送 1 条记录, data 中应答 0 条" in found[0].message


def test_an_ignored_max_length_is_found(upstream: str, tmp_path: Path) -> None:
    limit = CONTRACT.component("ExamRpotImgInfo")["properties"]["psnName"]["maxLength"]

    def truncate(path: str, sent: Any) -> Any:  # the stand-in cuts a too-long name instead of refusing it
        if path.endswith("saveExamRpotImgInfo") and isinstance(sent, dict) and isinstance(sent.get("input"), list):
            for record in sent["input"]:
                if isinstance(record, dict) and isinstance(record.get("psnName"), str):
                    record["psnName"] = record["psnName"][:limit]
        return sent

    report = check_against(upstream, lambda *_: None, ["saveExamRpotImgInfo"], rewrite=truncate)
    found = findings(report, "negative-accepted", "saveExamRpotImgInfo")
    assert report.exit_code() == 1
    assert [(f.field.code, f.field.rule, f.field.title) for f in found if f.field] == [("psnName", "maxLength", "人员姓名")]
    junit = tmp_path / "conformance.xml"
    report.write_junit(junit)
    root = ElementTree.parse(junit).getroot()
    failed = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert int(root.get("failures", "0")) == len(failed) >= 1
    assert len(failed) == 1 and "字段: input[0].psnName(人员姓名,#2) maxLength" in (failed[0].get("name") or "")
    assert "input[0].psnName(人员姓名,#2) [maxLength]" in (failed[0].find("failure").text or "")


def test_a_replay_answered_differently_is_found(upstream: str) -> None:
    answered = iter(range(10**6))

    def fault(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any] | None:
        if path.endswith("saveExamRpotImgInfo") and isinstance(answer, dict):
            return status, {**answer, "message": f"{answer.get('message')} ({next(answered)})"}
        return None

    report = check_against(upstream, fault, ["saveExamRpotImgInfo"])
    assert report.exit_code() == 1
    assert findings(report, "replay-differs", "saveExamRpotImgInfo")
    assert {f.check for f in report.findings} == {"replay-differs"}


def test_an_answer_outside_the_envelope_is_found(upstream: str) -> None:
    def fault(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any] | None:
        if path.endswith("deleteExamRpotImgIdxInfo") and isinstance(answer, dict) and isinstance(answer.get("data"), list):
            return status, answer["data"]  # the records' answers, without {code, type, message}
        return None

    report = check_against(upstream, fault, ["deleteExamRpotImgIdxInfo"])
    found = findings(report, "envelope", "deleteExamRpotImgIdxInfo")
    assert report.exit_code() == 1 and found
    assert "应答不是 {code, type, message, data} 对象, 而是数组" in found[0].message


def test_one_seed_sends_the_same_cases(upstream: str) -> None:
    def run_with(seed: int) -> dict[str, str]:
        options = Options(upstream, [Institution(INSTITUTION, KEY)], transactions=["saveImgInfo"], max_examples=3, seed=seed)
        report = run(options)
        assert report.clean, report.summary()
        return report.fingerprints

    first = run_with(11)
    assert set(first) == {"saveImgInfo fuzz positive", "saveImgInfo fuzz negative"}
    assert run_with(11) == first
    assert run_with(12) != first


def test_a_write_to_another_institutions_exam_is_found(upstream: str) -> None:
    def as_the_owner(path: str, sent: Any) -> Any:  # the stand-in lets anyone delete: it deletes as the exam's owner
        if path.endswith("deleteExamRpotImgIdxInfo") and isinstance(sent, dict) and sent.get("infCode") == OTHER_INSTITUTION:
            sent.update(infCode=INSTITUTION, key=KEY)
        return sent

    both = (Institution(INSTITUTION, KEY), Institution(OTHER_INSTITUTION, OTHER_KEY))
    transactions = ["saveExamRpotImgInfo", "saveImgInfo", "deleteExamRpotImgIdxInfo"]
    report = check_against(upstream, lambda *_: None, transactions, rewrite=as_the_owner, institutions=both)
    found = findings(report, "chain", "deleteExamRpotImgIdxInfo")
    assert report.exit_code() == 1 and "chain 3c another institution deletes" in {f.test for f in found}


def test_a_spec_of_ones_own_is_used(upstream: str, tmp_path: Path) -> None:
    own = tmp_path / "vendor-openapi.yaml"
    own.write_text((Path(__file__).resolve().parents[1] / "spec" / "openapi.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    options = Options(
        upstream, [Institution(INSTITUTION, KEY)], spec=own, transactions=["deleteExamRpotImgIdxInfo"], max_examples=1
    )
    report = run(options)
    assert report.clean and report.spec == str(own)
    result = subprocess.run(
        [*MIE, "conformance", upstream, "--institution", INSTITUTION, "--key", KEY, "--spec", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == EXIT_NOT_STARTED and "missing.yaml" in result.stderr


# --- the dicom phase (--dicom) ---------------------------------------------------------------------------


def dicom_run(url: str, scp_port: int, calling_ae: str = CALLING_AE) -> Report:
    """Only §2.7/§2.8 fuzzed (the dicom phase saves, registers and deletes over HTTP by itself), then the DICOM phase."""
    options = Options(
        url,
        [Institution(INSTITUTION, KEY)],
        transactions=["queryImgCaheFIndex"],
        max_examples=1,
        seed=7,
        dicom=f"127.0.0.1:{scp_port}",
        called_ae="MIE",
        calling_ae=calling_ae,
    )
    return run(options)


def test_the_dicom_phase_is_clean_against_mie_serve(upstream: str) -> None:
    report = dicom_run(upstream, UPSTREAM_SCP_PORT)
    assert report.clean, [finding.headline() for finding in report.findings]
    ran = {test for (_transaction, test) in report.tests}
    assert {"dicom 1 echo", "dicom 2 save", "dicom 3 register", "dicom 4 store", "dicom 5 list", "dicom 6 fetch"} <= ran
    assert report.tests[("C-STORE", "dicom 4 store")] == 1 and report.sections["C-STORE"] == "DICOM"


def test_an_unknown_calling_ae_title_is_refused_and_said(upstream: str) -> None:
    report = dicom_run(upstream, UPSTREAM_SCP_PORT, calling_ae="NOBODY")
    assert [(f.transaction, f.test) for f in report.findings] == [("C-ECHO", "dicom 1 echo")]
    assert "被拒绝" in report.findings[0].message


def test_an_scp_that_drops_what_it_acknowledges_is_found(upstream: str) -> None:
    """A stand-in SCP answers every C-ECHO and C-STORE with success and keeps nothing: §2.7 then lists nothing."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title="MIE")
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    port = free_port()
    handlers = [(evt.EVT_C_STORE, lambda event: 0x0000), (evt.EVT_C_ECHO, lambda event: 0x0000)]
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    try:
        report = dicom_run(upstream, port)
    finally:
        server.shutdown()
    assert [(f.transaction, f.test, f.check) for f in report.findings] == [("queryImgCaheFIndex", "dicom 5 list", "chain")]
    assert "§2.7 的清单中没有刚发送的实例" in report.findings[0].message


# --- what a person reads: the report of a server that stores nothing; the preflight -----------------------


def stores_nothing(seen: list[str]) -> Starlette:
    """A stand-in as Stoplight Prism mocks the spec: every transaction answered with its spec's first success
    example (a valid envelope), whatever was sent; nothing stored, so nothing saved is ever found again."""
    answers = {}
    for path, item in CONTRACT.resolved["paths"].items():
        media = item["post"]["responses"]["200"]["content"]["application/json"]
        answers[path] = media.get("example") or next(iter(media["examples"].values()))["value"]

    async def answer(request: Request) -> Response:
        await request.body()
        seen.append(request.url.path)
        found = answers.get(request.url.path)
        if found is None:
            return Response('{"code": 4004, "type": "error", "message": "没有这个地址", "data": null}', 404)
        return Response(json.dumps(found, ensure_ascii=False), 200, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


def test_the_report_of_a_server_that_stores_nothing_is_short_and_names_the_chain_first(tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "report.xml"
    with served_in_thread(stores_nothing([])) as port:
        command = [*MIE, "conformance", f"http://127.0.0.1:{port}", "--institution", INSTITUTION, "--key", KEY]
        command += ["--max-examples", "1", "--seed", SEED]
        result = subprocess.run([*command, "--json", str(report), "--junit", str(junit)], capture_output=True, text=True)
        verbose = subprocess.run([*command, "--verbose"], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 40 and lines[0].startswith("mie conformance: 不符合规范")
    problems = [line for line in lines if re.match(r"\s+\d+\. \[", line)]
    # The two behavioural failures first: saved but §2.6 does not find it; §2.7 does not list the instance sent.
    assert "[链路]" in problems[0] and "[链路]" in problems[1]
    said = {problem.split(": ", 1)[1].split(":")[0] for problem in problems[:2]}
    assert said == {"已保存的检查, §2.6 查不到", "§2.7 的清单中没有刚发送的实例"}
    assert all("[链路]" not in line for line in problems[2:])
    assert lines[lines.index(problems[0]) + 1].lstrip().startswith("curl -sS -X POST")
    assert all(len(line) < 600 for line in lines)  # a reproducer does not carry a large body whole

    summary = json.loads(report.read_text(encoding="utf-8"))
    findings_total, problems_all = summary["findings"], summary["problems"]
    assert findings_total >= 300 and len(problems_all) <= 30  # hundreds of findings, a few problems
    assert sum(problem["cases"] for problem in problems_all) == findings_total
    accepted = next(p for p in problems_all if p["check"] == "negative-accepted" and p["transaction"] == "saveExamRpotImgInfo")
    assert accepted["cases"] >= 100 and "input[0].psnName(人员姓名,#2) maxLength" in accepted["fields"]
    assert all(finding["curl"].startswith("curl ") for finding in accepted["findings"])  # every case, whole

    root = ElementTree.parse(junit).getroot()
    failing = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert int(root.get("failures", "0")) == len(failing) == len(problems_all)
    first = next(case for case in failing if "已保存的检查, §2.6 查不到" in (case.get("name") or ""))
    assert first.find("failure").get("type") == "chain"  # type: ignore[union-attr]
    biggest = next(case for case in failing if (case.get("name") or "") == accepted["summary"][:200])
    assert (biggest.find("failure").text or "").count("curl -sS") == accepted["cases"]  # type: ignore[union-attr]

    assert verbose.returncode == 1 and len(verbose.stdout.splitlines()) > findings_total  # each case, with its curl


def test_preflight_stops_on_a_refused_key_before_generating_anything(upstream: str) -> None:
    result = subprocess.run(
        [*MIE, "conformance", upstream, "--institution", INSTITUTION, "--key", "wrong-key"], capture_output=True, text=True
    )
    assert result.returncode == EXIT_NOT_STARTED and result.stdout == ""
    said = result.stderr.strip().splitlines()
    assert len(said) == 1 and f"机构 {INSTITUTION} 被服务器拒绝 (code 2001" in said[0], result.stderr


def test_preflight_stops_on_a_server_that_is_not_this_interface() -> None:
    seen: list[str] = []

    async def page(request: Request) -> Response:
        seen.append(request.url.path)
        return Response("<html><body>Not Found</body></html>", 404, media_type="text/html")

    with served_in_thread(Starlette(routes=[Route("/{path:path}", page, methods=["GET", "POST"])])) as port:
        result = subprocess.run(
            [*MIE, "conformance", f"http://127.0.0.1:{port}", "--institution", INSTITUTION, "--key", KEY],
            capture_output=True,
            text=True,
        )
    assert result.returncode == EXIT_NOT_STARTED
    said = result.stderr.strip().splitlines()
    assert len(said) == 1 and "不像本接口的服务" in said[0] and "HTTP 404, text/html" in said[0], result.stderr
    assert seen == ["/mie/api/mie/queryExamRpotImgIndxListFHospital"]  # one harmless request, nothing generated


def test_preflight_sends_one_harmless_query_per_institution() -> None:
    seen: list[str] = []
    with served_in_thread(stores_nothing(seen)) as port:
        both = [Institution(INSTITUTION, KEY), Institution(OTHER_INSTITUTION, OTHER_KEY)]
        runner = Runner(Options(f"http://127.0.0.1:{port}", both))
        runner.preflight()
    assert seen == ["/mie/api/mie/queryExamRpotImgIndxListFHospital"] * 2


def test_the_default_report_is_at_most_40_lines_whatever_was_found() -> None:
    """Many transactions, many distinct problems, one not implemented: still 40 lines; --verbose has them all."""
    report = Report("http://vendor", "spec/openapi.yaml", 0, elapsed=1.0)
    for number in range(20):
        name = f"transaction{number}"
        report.tests[(name, "fuzz negative")] = 5
        report.sections[name] = f"9.{number}"
        for kind in range(6):
            request = Sent(f"http://vendor/{name}", {}, body={"input": ["x" * 5000]})
            said = f"问题种类 {'甲乙丙丁戊己'[kind]}"
            report.findings.append(Finding(name, f"9.{number}", "fuzz negative", "envelope", said, None, 400, request))
    report.not_implemented["transaction3"] = "HTTP 501, code 5001"
    text = report.summary()
    assert len(text.splitlines()) <= 40 and "另有" in text
    assert all(len(line) < 600 for line in text.splitlines())  # a 5,000-character body is not carried whole
    verbose = report.summary(verbose=True)
    assert all(f"transaction{n} / 生成用例 (违规数据): 问题种类 己" in verbose for n in range(20))
