"""`mie spec diff`: V1.4 against a V1.5 draft with planted changes finds exactly those, each classified."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mie.cli import main
from mie.contract.codegen import dump_spec
from mie.contract.spec import REPO_ROOT, load_yaml
from mie.toolkit.specdiff import RECEIVERS, SENDERS, diff_files
from tests.spec_revision import NEW_EXAM_PART, PLANTED, v15_spec, write_v15

V14 = REPO_ROOT / "spec" / "openapi.yaml"


@pytest.fixture(scope="module")
def v15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_v15(tmp_path_factory.mktemp("spec") / "openapi-v1.5.yaml")


def found(old: Path, new: Path) -> set[tuple[str, str, str, bool, bool]]:
    return {
        (change.transaction, change.kind, change.path, SENDERS in change.breaks, RECEIVERS in change.breaks)
        for change in diff_files(old, new).changes
    }


def written(tmp_path: Path, spec: dict[str, Any], name: str = "changed.yaml") -> Path:
    path = tmp_path / name
    path.write_text(dump_spec(spec), encoding="utf-8")
    return path


def test_v14_to_the_v15_draft_finds_exactly_the_planted_changes(v15: Path) -> None:
    assert found(V14, v15) == PLANTED


def test_a_spec_against_itself_finds_nothing(capsys: pytest.CaptureFixture[str], v15: Path) -> None:
    assert diff_files(V14, V14).changes == [] and diff_files(v15, v15).changes == []
    assert main(["spec", "diff", str(V14), str(V14)]) == 0
    assert "0 处变更" in capsys.readouterr().out


def test_changes_speak_the_spec_terms(v15: Path) -> None:
    changes = {(change.kind, change.path): change for change in diff_files(V14, v15).changes}
    part = changes[("codes-added", "input[].setlInfoList[].examPart")]
    assert (part.infno, part.section, part.code, part.title, part.seq) == (
        "saveExamRpotImgInfo", "2.1", "examPart", "检查部位代码", "SetlInfoDTO#4"
    )
    assert part.new == [NEW_EXAM_PART.code] and part.classification == "接收方不兼容"
    assert part.detail == (
        f"input[].setlInfoList[].examPart(检查部位代码,SetlInfoDTO#4): 字典 examPart 新增代码 {NEW_EXAM_PART.code}"
    )
    length = changes[("maxLength-changed", "input[].rpotNo")]
    assert (length.old, length.new, length.title, length.seq) == (50, 100, "报告编号", "#57")
    renamed = changes[("field-renamed", "input[].chfCompl")]
    assert (renamed.old, renamed.new, renamed.classification) == ("chfcomp", "chfCompl", "兼容")
    assert changes[("field-added", "input[].modality")].classification == "发送方不兼容"


def test_the_reverse_diff_breaks_the_other_side(v15: Path) -> None:
    back = found(v15, V14)
    route = "/mie/api/mie/saveExamRpotImgInfo"
    assert (route, "maxLength-changed", "input[].rpotNo", True, False) in back  # 100 -> 50: senders refused
    assert (route, "codes-removed", "input[].examPart", True, False) in back
    assert ("/mie/api/mie/saveImgInfo", "field-removed", "input[].modality", False, True) in back  # was required
    # chfcomp -> chfCompl undone: the old name is no alias of the new, so it is a removal and an addition
    assert (route, "field-removed", "input[].chfCompl", False, False) in back
    assert (route, "field-added", "input[].chfcomp", False, False) in back


def test_transactions_added_and_removed(tmp_path: Path) -> None:
    spec = copy.deepcopy(load_yaml(V14))
    del spec["paths"]["/mie/api/mie/saveRptFile"]
    fewer = written(tmp_path, spec)
    assert found(V14, fewer) == {("/mie/api/mie/saveRptFile", "transaction-removed", "", True, False)}
    assert found(fewer, V14) == {("/mie/api/mie/saveRptFile", "transaction-added", "", False, True)}


def test_required_type_format_pattern_and_closed_objects(tmp_path: Path) -> None:
    spec = copy.deepcopy(load_yaml(V14))
    schemas = spec["components"]["schemas"]
    exam = schemas["ExamRpotImgInfo"]
    exam["required"].remove("psnName")  # required -> optional
    exam["properties"]["tel"]["type"] = "integer"
    exam["properties"]["brdy"]["x-format"] = "yyyyMMdd"
    envelope = schemas["SaveImgInfoRequest"]["properties"]
    envelope["msgid"]["pattern"] = "^[0-9A-Z]{30}$"
    envelope["channel"] = {"title": "渠道", "x-seq": 7, "type": "string"}  # envelopes refuse unknown fields
    envelope["infno"]["enum"] = ["saveImgInfo"]  # an accepted infno dropped
    changes = found(V14, written(tmp_path, spec))
    assert changes == {
        ("/mie/api/mie/saveExamRpotImgInfo", "required-changed", "input[].psnName", False, True),
        ("/mie/api/mie/saveExamRpotImgInfo", "type-changed", "input[].tel", True, True),
        ("/mie/api/mie/saveExamRpotImgInfo", "format-changed", "input[].brdy", True, True),
        ("/mie/api/mie/saveImgInfo", "pattern-changed", "msgid", True, True),
        ("/mie/api/mie/saveImgInfo", "field-added", "channel", False, True),
        ("/mie/api/mie/saveImgInfo", "codes-removed", "infno", True, False),
    }


def test_headers_and_form_of_the_multipart_transactions(tmp_path: Path) -> None:
    spec = copy.deepcopy(load_yaml(V14))
    for parameter in spec["paths"]["/mie/api/mie/saveImgFile"]["post"]["parameters"]:
        if parameter["name"] == "key":
            parameter["schema"]["maxLength"] = 40
    spec["components"]["schemas"]["SaveImgFileForm"]["properties"]["fileMd5"]["title"] = "文件 MD5"
    assert found(V14, written(tmp_path, spec)) == {
        ("/mie/api/mie/saveImgFile", "maxLength-changed", "headers.key", True, False),
        ("/mie/api/mie/saveImgFile", "title-changed", "form.fileMd5", False, False),
    }


def test_cli_text_json_and_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path, v15: Path) -> None:
    assert main(["spec", "diff", str(V14), str(v15)]) == 1
    out = capsys.readouterr().out
    assert "接口规范 V1.4 → V1.5: 6 处变更" in out and "§2.3 saveImgInfo (/mie/api/mie/saveImgInfo)" in out
    assert "  [发送方不兼容] input[].modality(检查设备类型,#5): 新增必填字段" in out

    assert main(["spec", "diff", str(V14), str(v15), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["breaking_for_senders"] and report["breaking_for_receivers"] and len(report["changes"]) == len(PLANTED)
    keys = {"transaction", "section", "infno", "path", "code", "title", "seq", "classification", "message"}
    assert keys <= set(report["changes"][0])

    assert main(["spec", "diff", str(V14), str(v15), "--fail-on", "none"]) == 0
    spec = v15_spec()
    del spec["components"]["schemas"]["ImgInfo"]["properties"]["modality"]
    spec["components"]["schemas"]["ImgInfo"]["required"].remove("modality")
    no_sender_break = written(tmp_path, spec, "receivers-only.yaml")
    assert main(["spec", "diff", str(V14), str(no_sender_break), "--fail-on", "senders"]) == 0
    assert main(["spec", "diff", str(V14), str(no_sender_break), "--fail-on", "receivers"]) == 1
    capsys.readouterr()

    assert main(["spec", "diff", str(V14), str(tmp_path / "missing.yaml")]) == 2
    (tmp_path / "not-a-spec.yaml").write_text("just: text\n", encoding="utf-8")
    assert main(["spec", "diff", str(V14), str(tmp_path / "not-a-spec.yaml")]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["spec", "diff", str(V14)])
    assert usage.value.code == 2


def test_severities_relaxed_or_withdrawn(tmp_path: Path) -> None:
    spec = copy.deepcopy(load_yaml(V14))
    schemas = spec["components"]["schemas"]
    del schemas["SaveImgInfoRequest"]["properties"]["msgid"]["x-relax"]  # E-MSGID-CODE withdrawn from §2.3
    del schemas["ExamRpotImgInfo"]["properties"]["rpotNo"]["x-advise"]  # an information no longer given
    stricter = written(tmp_path, spec)
    assert found(V14, stricter) == {
        ("/mie/api/mie/saveImgInfo", "relaxation-removed", "msgid", True, False),
        ("/mie/api/mie/saveExamRpotImgInfo", "advice-removed", "input[].rpotNo", False, False),
    }
    relaxed = [c for c in diff_files(stricter, V14).changes if c.kind == "rule-relaxed"]
    assert [(c.path, c.breaks) for c in relaxed] == [("msgid", (RECEIVERS,))]
    assert relaxed[0].detail.startswith("msgid(发送方报文 ID,#2): 规则 pattern 对 ^[0-9A-Z]{1,32}")


def test_mie_validate_follows_a_revised_spec_with_no_code_change(tmp_path: Path) -> None:
    """The draft as a spec directory: validation follows it (run as a process: one contract per process)."""
    from tests.conftest import document_example
    from tests.spec_revision import write_v15_dir
    from tests.test_cli import mie

    draft = write_v15_dir(tmp_path / "spec-v1.5")
    img_info = document_example("/mie/api/mie/saveImgInfo")
    (tmp_path / "without.json").write_text(json.dumps(img_info, ensure_ascii=False), encoding="utf-8")
    img_info["input"][0]["modality"] = "CT"
    (tmp_path / "with.json").write_text(json.dumps(img_info, ensure_ascii=False), encoding="utf-8")
    exam = document_example()
    exam["input"][0]["examPart"] = NEW_EXAM_PART.code
    (tmp_path / "exam.json").write_text(json.dumps(exam, ensure_ascii=False), encoding="utf-8")

    files = [str(tmp_path / name) for name in ("without.json", "with.json", "exam.json")]
    under_v15 = mie("validate", "--spec", str(draft), "--json", *files)
    reports = {Path(r["file"]).name: r for r in json.loads(under_v15.stdout)["reports"]}
    assert under_v15.returncode == 1
    assert [f["where"] for f in reports["without.json"]["findings"]] == ["$.input[0].modality"]  # now required
    assert reports["with.json"]["findings"] == []
    exam_findings = reports["exam.json"]["findings"]
    assert {f["severity"] for f in exam_findings} == {"information"}  # the new code is a code now
    assert "已按 chfCompl 读取字段 chfcomp" in [f["message"] for f in exam_findings]  # the renamed field's old name

    under_v14 = mie("validate", "--json", str(tmp_path / "exam.json"), str(tmp_path / "with.json"))
    reports = {Path(r["file"]).name: r for r in json.loads(under_v14.stdout)["reports"]}
    assert under_v14.returncode == 0
    assert "warning" in [f["severity"] for f in reports["exam.json"]["findings"]]  # unlisted in V1.4 (E-EXAMPART-UNLISTED)
    assert "已忽略接口规范中没有的字段 modality" in reports["with.json"]["findings"][0]["message"]
    assert mie("validate", "--spec", str(tmp_path), str(tmp_path / "with.json")).returncode == 2  # no openapi.yaml there
