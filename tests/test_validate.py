"""`mie validate` for vendors: every transaction, batches, reports (text, JSON, JUnit), severities, exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from mie.cli import main
from mie.contract import current
from mie.toolkit.validate import validate_document
from tests.conftest import document_example
from tests.dicom_files import make_instance, md5, part10_bytes

CONTRACT = current()

EXAM_RECORD = document_example()["input"][0]


def request_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every request example of the spec: the JSON bodies, and for §2.2/§2.4 a capture of their header
    parameters' examples and their form example."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path, item in CONTRACT.document["paths"].items():
        operation = item["post"]
        content = operation["requestBody"]["content"]
        if "application/json" in content:
            media = content["application/json"]
            values = [media["example"]] if "example" in media else [e["value"] for e in media["examples"].values()]
            found += [(path, copy.deepcopy(value)) for value in values]
        else:
            headers = {p["name"]: p["example"] for p in operation["parameters"] if p["in"] == "header"}
            form = copy.deepcopy(content["multipart/form-data"]["example"])
            found.append((path, {"headers": headers, "form": form}))
    return found


def capture(infno: str, **form: Any) -> dict[str, Any]:
    for path, example in request_examples():
        if path.endswith("/" + infno):
            example["form"].update(form)
            return example
    raise KeyError(infno)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, body: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(("path", "example"), request_examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_request_example_of_the_spec_is_clean(path: str, example: dict[str, Any]) -> None:
    report = validate_document(example)
    assert report.transaction is not None and path.rsplit("/", 1)[-1] in (report.transaction, example.get("infno"))
    assert [f.message for f in report.findings if f.severity != "information"] == []


def test_all_eight_transactions_are_covered() -> None:
    sections = {validate_document(example).section for _, example in request_examples()}
    assert sections == {"2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7/2.8"}
    inputs = [example.get("input") for _, example in request_examples()]
    services = {item["serviceName"] for item in inputs if isinstance(item, dict) and "serviceName" in item}
    assert services == {"queryImgCaheFileSn", "queryImgCahe"}  # §2.7 and §2.8


def test_the_2_3_and_2_6_examples_no_longer_stop_with_a_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    img_info = write(tmp_path / "2.3.json", document_example("/mie/api/mie/saveImgInfo"))
    query = write(tmp_path / "2.6.json", document_example("/mie/api/mie/queryExamRpotImgIndxListFHospital"))
    code, out, _ = run(capsys, str(img_info), str(query))
    assert code == 0 and "saveImgInfo (§2.3): 符合规范" in out and "queryExamRpotImgIndxListFHospital (§2.6): 符合规范" in out


def test_the_transaction_comes_from_an_alias_or_the_option() -> None:
    body = document_example("/mie/api/mie/saveImgInfo")
    body["info"] = body.pop("infno")  # ERRATA E-INFO
    assert validate_document(body).transaction == "saveImgInfo"
    del body["info"]
    missing = validate_document(body)
    assert not missing.valid and missing.findings[0].where == "$.infno"
    assert validate_document(body, "2.3").transaction == "saveImgInfo"
    # Named by the option, it is still refused for lacking infno, as the processor would refuse it.
    assert [f.where for f in validate_document(body, "saveImgInfo").findings] == ["$.infno"]
    delete = document_example("/mie/api/mie/deleteExamRpotImgIdxInfo")
    delete["infno"] = "deleteExamRpotImgIndxInfo"  # ERRATA E-DELETE-NAME
    assert validate_document(delete).transaction == "deleteExamRpotImgIdxInfo" and validate_document(delete).valid


def test_errors_carry_the_json_path_and_the_field_in_the_spec_terms() -> None:
    body = document_example()
    body["input"].append(copy.deepcopy(body["input"][0]))
    body["input"][1]["setlInfoList"][1]["examPart"] = "XYZ"
    del body["input"][1]["psnName"]
    report = validate_document(body)
    errors = {f.where: f for f in report.findings if f.severity == "error"}
    assert set(errors) == {"$.input[1].psnName", "$.input[1].setlInfoList[1].examPart"}
    assert errors["$.input[1].psnName"].message == "psnName(人员姓名,#2): 必填项缺失"
    part = errors["$.input[1].setlInfoList[1].examPart"]
    assert (part.code, part.title, part.seq) == ("examPart", "检查部位代码", "SetlInfoDTO#4")


def test_records_of_2_5_2_6_and_2_8_are_checked_by_their_own_schemas() -> None:
    delete = document_example("/mie/api/mie/deleteExamRpotImgIdxInfo")
    delete["input"] = ["not-an-index", {"hiImgIdx": delete["input"][0]}, 7]
    findings = validate_document(delete).findings
    assert [f.where for f in findings if f.severity == "error"][:1] == ["$.input[0]"]
    assert "hiImgIndx(医保影像云索引编码,#1)" in findings[0].message
    assert any(f.where == "$.input[2]" and f.severity == "error" for f in findings)
    query = document_example("/mie/api/mie/queryExamRpotImgIndxListFHospital")
    del query["input"]["certno"]
    assert [f.where for f in validate_document(query).findings if f.severity == "error"] == ["$.input.certno"]
    image = document_example("/mie/api/mie/queryImgCaheFIndex", "queryImgCahe")
    del image["input"]["imgFileSn"]
    assert [f.where for f in validate_document(image).findings if f.severity == "error"] == ["$.input.imgFileSn"]
    image["input"]["serviceName"] = "queryEverything"
    assert [f.where for f in validate_document(image).findings] == ["$.input.serviceName"]


def test_a_broken_envelope_is_reported_and_its_records_are_not(tmp_path: Path) -> None:
    body = document_example("/mie/api/mie/saveImgInfo")
    body["msgid"] = "short"
    body["input"][0]["imageTotalNum"] = "many"
    report = validate_document(body)
    assert [f.where for f in report.findings if f.severity == "error"] == ["$.msgid"]


def test_multipart_capture_with_its_file(tmp_path: Path) -> None:
    study = EXAM_RECORD["studyUid"]
    data = part10_bytes(make_instance(study))
    (tmp_path / "ct.dcm").write_bytes(data)
    good = capture("saveImgFile", fileMd5=md5(data).upper())
    good["file"] = "ct.dcm"
    good["form"].pop("dicom")
    assert validate_document(good, base_dir=tmp_path).findings == []

    wrong = copy.deepcopy(good)
    wrong["form"]["fileMd5"] = "0" * 32
    wrong["form"]["studyUid"] = "1.2.3"
    findings = {f.where: f for f in validate_document(wrong, base_dir=tmp_path).findings}
    assert findings["$.form.fileMd5"].rule == "md5" and findings["$.form.fileMd5"].message.startswith("fileMd5(文件 Md5 值,#4)")
    assert findings["$.form.studyUid"].rule == "fileMismatch"

    (tmp_path / "report.pdf").write_bytes(b"not a pdf")
    report = capture("saveRptFile", fileMd5=md5(b"not a pdf"))
    report["file"] = "report.pdf"
    found = validate_document(report, base_dir=tmp_path).findings
    assert [(f.where, f.rule) for f in found] == [("$.form.examRpotPdf1", "fileType")]

    no_file = capture("saveRptFile")
    del no_file["form"]["examRpotPdf1"]
    assert [f.where for f in validate_document(no_file).findings] == ["$.form.examRpotPdf1"]  # ERRATA E-PDF-REQUIRED
    headers = capture("saveImgFile")
    headers["headers"] = {key.upper(): value for key, value in headers["headers"].items() if key != "key"}
    assert [f.where for f in validate_document(headers).findings] == ["$.headers.key"]  # header names: any case


def test_a_json_body_for_a_multipart_transaction_says_what_to_give() -> None:
    report = validate_document({"infno": "saveRptFile"})
    assert report.transaction == "saveRptFile" and report.findings[0].rule == "capture"


def test_a_batch_reports_each_bad_file_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    for number in range(3):
        write(batch / f"good{number}.json", document_example())
    broken = document_example()
    broken["input"][0]["examPart"] = "XYZ"
    write(batch / "sub" / "bad-part.json", broken)
    (batch / "sub" / "bad-json.json").write_text("{not json", encoding="utf-8")
    (batch / "notes.txt").write_text("not a payload", encoding="utf-8")  # a directory means its *.json only

    code, out, _ = run(capsys, str(batch))
    assert code == 1
    assert f"{batch / 'sub' / 'bad-part.json'}: saveExamRpotImgInfo (§2.1): 不符合规范" in out
    assert "[错误] $.input[0].examPart: examPart(检查部位代码,#13): 'XYZ' 不在字典 examPart 中" in out
    assert f"{batch / 'sub' / 'bad-json.json'}: 交易未知" in out and "不是有效的 JSON: 第 1 行第 2 列" in out
    assert "共 5 个文件: 3 个符合规范, 2 个不符合" in out
    code, out, _ = run(capsys, str(batch), "-q")  # the good files carry information only: not listed
    assert code == 1 and "good0.json" not in out and "bad-part.json" in out and "共 5 个文件" in out

    code, out, _ = run(capsys, str(batch / "good*.json"), "--json")
    report = json.loads(out)
    assert code == 0 and report["valid"] and report["files"] == 3

    code, out, _ = run(capsys, str(batch / "**" / "*.json"), "--json", "--quiet")
    report = json.loads(out)
    assert code == 1 and report["invalid"] == 2
    bad = [r for r in report["reports"] if not r["valid"]]
    assert {Path(r["file"]).name for r in bad} == {"bad-part.json", "bad-json.json"}
    assert {"severity", "where", "code", "title", "seq", "rule", "message"} <= set(bad[-1]["findings"][0])


def test_junit_is_read_by_a_junit_parser(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path / "good.json", document_example())
    broken = document_example()
    del broken["input"][0]["psnName"]
    write(tmp_path / "bad.json", broken)
    junit = tmp_path / "report.xml"
    code, _, _ = run(capsys, str(tmp_path / "good.json"), str(tmp_path / "bad.json"), "--junit", str(junit))
    assert code == 1
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failure = cases[str(tmp_path / "bad.json")].find("failure")
    assert failure is not None and "$.input[0].psnName: psnName(人员姓名,#2): 必填项缺失" in (failure.text or "")
    assert cases[str(tmp_path / "good.json")].find("failure") is None
    junitparser = pytest.importorskip("junitparser")
    parsed = junitparser.JUnitXml.fromfile(str(junit))
    results = {case.name: [type(r).__name__ for r in case.result] for suite in parsed for case in suite}
    assert results == {str(tmp_path / "good.json"): [], str(tmp_path / "bad.json"): ["Failure"]}


def test_unreadable_input_and_usage_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, str(tmp_path / "missing.json"))[0] == 2
    code, _, err = run(capsys, str(tmp_path / "*.json"))
    assert code == 2 and "没有匹配的文件" in err
    named = capture("saveImgFile")
    named["file"] = "absent.dcm"
    assert run(capsys, str(write(tmp_path / "capture.json", named)))[0] == 2
    with pytest.raises(SystemExit) as usage:
        main(["validate"])
    assert usage.value.code == 2


def test_warnings_alone_exit_0_and_are_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = document_example()
    body["msgid"] = "H371464507202503010102030001"
    code, out, _ = run(capsys, str(write(tmp_path / "warned.json", body)))
    assert code == 0 and "[警告] $.msgid: msgid(发送方报文 ID,#2)" in out and "1 个警告" in out


def test_strict_makes_warnings_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """E-SEVERITY"""
    body = document_example()
    body["input"][0]["examPart"] = "B999ZZZZZ"
    warned = write(tmp_path / "warned.json", body)
    assert run(capsys, str(warned))[0] == 0
    code, out, _ = run(capsys, str(warned), "--strict")
    assert code == 1 and "[错误] $.input[0].examPart" in out and "[--strict: 警告即错误]" in out
    assert run(capsys, str(warned))[0] == 0  # the next run is not strict


def test_serve_takes_strict_from_its_option_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from mie.cli import parser
    from mie.config import settings_from

    assert settings_from(parser().parse_args(["serve", "--strict"])).strict
    assert not settings_from(parser().parse_args(["serve"])).strict
    monkeypatch.setenv("MIE_STRICT", "1")
    assert settings_from(parser().parse_args(["serve"])).strict


def test_progress_on_a_terminal_for_large_batches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    import mie.cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for number in range(4):
        write(tmp_path / f"{number}.json", document_example())
    monkeypatch.setattr(mie.cli, "_PROGRESS_FROM", 3)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert main(["validate", str(tmp_path)]) == 0
    assert terminal.getvalue().endswith("\rmie validate: 4/4 个文件\n")
    piped = io.StringIO()  # not a terminal: nothing but findings
    monkeypatch.setattr("sys.stderr", piped)
    assert main(["validate", str(tmp_path)]) == 0 and piped.getvalue() == ""


def raw_request(path: str, headers: dict[str, str], **content: Any) -> bytes:
    """A request as captured on the wire, built by httpx as a client would send it."""
    import httpx

    request = httpx.Request("POST", f"http://127.0.0.1:8080{path}", headers=headers, **content)
    head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + request.read()


def test_raw_multipart_and_json_requests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    study = EXAM_RECORD["studyUid"]
    data = part10_bytes(make_instance(study))
    example = capture("saveImgFile", fileMd5=md5(data))
    form = {name: value for name, value in example["form"].items() if name != "dicom"}
    headers = {name: str(value) for name, value in example["headers"].items()}
    raw = raw_request("/mie/api/mie/saveImgFile", headers, data=form, files={"dicom": ("ct1.dcm", data, "application/dicom")})
    (tmp_path / "upload.http").write_bytes(raw)
    code, out, _ = run(capsys, str(tmp_path / "upload.http"))
    assert code == 0 and "saveImgFile (§2.2): 符合规范" in out
    without = {name: value for name, value in headers.items() if name != "infno"}
    unnamed = raw_request("/mie/api/mie/saveImgFile", without, data=form, files={"dicom": ("a", data)})
    (tmp_path / "no-infno.http").write_bytes(unnamed)
    code, out, _ = run(capsys, str(tmp_path / "no-infno.http"))  # known by its URL, refused as the processor would
    assert code == 1 and "saveImgFile (§2.2)" in out and "[错误] $.headers.infno: infno(交易编号,#1): 必填项缺失" in out

    broken = raw_request(
        "/mie/api/mie/saveImgFile", headers, data={**form, "fileMd5": "0" * 32}, files={"dicom": ("ct1.dcm", b"x" * 200)}
    )
    (tmp_path / "broken.http").write_bytes(broken)
    code, out, _ = run(capsys, str(tmp_path / "broken.http"))
    assert code == 1 and "[错误] $.form.fileMd5: fileMd5(文件 Md5 值,#4): 与文件 ct1.dcm 的 MD5" in out
    assert "[错误] $.form.dicom: dicom(影像 dicom 文件,#5): ct1.dcm 不是 DICOM 文件" in out

    query = document_example("/mie/api/mie/queryExamRpotImgIndxListFHospital")
    del query["input"]["certno"]
    (tmp_path / "query.http").write_bytes(raw_request("/mie/api/mie/queryExamRpotImgIndxListFHospital", {}, json=query))
    (tmp_path / "no-infno.http").unlink()
    code, out, _ = run(capsys, str(tmp_path / "*.http"), "--json")
    wheres = {Path(r["file"]).name: [f["where"] for f in r["findings"]] for r in json.loads(out)["reports"]}
    assert code == 1 and wheres["query.http"] == ["$.input.certno"] and wheres["upload.http"] == []


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"infno": "saveExamRpotImgInfo", "infno": "saveImgInfo"}', "duplicate key"),
        (b'{"infno": "saveExamRpotImgInfo", "x": NaN}', "NaN"),
        (b'{"infno": "saveExamRpotImgInfo", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "nested too deeply"),
        (b'{"infno": "saveExamRpotImgInfo", "x": "\\ud800"}', "lone surrogate"),
        (b'{"infno": "saveExamRpotImgInfo", "x\\u003a": 1, "x:": 2}', "duplicate key"),
    ],
    ids=["duplicate-key", "nan", "deep", "lone-surrogate", "duplicate-by-escape"],
)
def test_a_body_is_read_as_strictly_as_the_processor_reads_it(body: bytes, said: str, tmp_path: Path) -> None:
    """ERRATA E-JSON-STRICT, in `mie validate` as in the processor (mie.contract.body): the fast reader of files
    (orjson) hands what it would take more loosely to the strict one."""
    from mie.toolkit.validate import validate_file

    path = tmp_path / "body.json"
    path.write_bytes(body)
    findings = validate_file(path).findings
    assert [(f.severity, f.rule) for f in findings] == [("error", "json")] and said in findings[0].message


def test_a_body_in_utf16_or_declared_gbk_is_read_as_the_processor_reads_it(tmp_path: Path) -> None:
    from mie.toolkit.validate import validate_file

    example = document_example()  # §2.1: Chinese names in it
    text = json.dumps(example, ensure_ascii=False)
    utf16 = tmp_path / "utf16.json"
    utf16.write_bytes(text.encode("utf-16"))  # with its byte-order mark
    assert validate_file(utf16).valid
    request = tmp_path / "gbk.http"
    head = "POST /mie/api/mie/saveExamRpotImgInfo HTTP/1.1\r\nContent-Type: application/json; charset=GBK\r\n\r\n"
    request.write_bytes(head.encode("latin-1") + text.encode("gbk"))
    assert validate_file(request).valid
    undeclared = tmp_path / "undeclared.http"
    undeclared.write_bytes(head.replace("; charset=GBK", "").encode("latin-1") + text.encode("gbk"))
    findings = validate_file(undeclared).findings
    assert findings and "charset=GBK" in findings[0].message  # as the processor answers it


def test_a_large_file_beside_a_capture_is_read_piece_by_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A study's file may be hundreds of MB: it is hashed as it is read, its header taken from its first MiB, and
    never read whole (Path.read_bytes is not called)."""
    from mie.toolkit import validate as toolkit

    dataset = make_instance(EXAM_RECORD["studyUid"])
    dataset.PixelData = bytes(range(256)) * (3 * 4096)  # 3 MiB of pixels after the header
    dataset.Rows, dataset.Columns, dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 1024, 3072, 8, 8, 7
    data = part10_bytes(dataset)
    assert len(data) > 3 * toolkit.FILE_HEAD_BYTES
    (tmp_path / "big.dcm").write_bytes(data)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read whole"))
    good = capture("saveImgFile", fileMd5=md5(data).upper())
    good["file"] = "big.dcm"
    good["form"].pop("dicom")
    assert validate_document(good, base_dir=tmp_path).findings == []
    wrong = copy.deepcopy(good)
    wrong["form"]["fileMd5"], wrong["form"]["studyUid"] = "0" * 32, "1.2.3"
    assert {f.where: f.rule for f in validate_document(wrong, base_dir=tmp_path).findings} == {
        "$.form.fileMd5": "md5",
        "$.form.studyUid": "fileMismatch",
    }
