"""The contract is a value: two revisions loaded at once mean each their own, and strictness is a property of a
loaded contract, not of the process."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from mie.contract import Contract, current
from mie.contract.spec import BUNDLED_SPEC_DIR
from mie.toolkit.validate import validate_document
from tests.spec_revision import NEW_EXAM_PART, write_v15_dir

V14 = current()


def _img_info_message() -> dict[str, Any]:
    """The document's §2.3 example, as the spec keeps it beside the transaction."""
    content = V14.operation(V14.transaction("saveImgInfo"))["requestBody"]["content"]["application/json"]
    return copy.deepcopy(content["example"])


def test_two_revisions_at_once_each_judge_by_their_own_rules(tmp_path: Path) -> None:
    v15 = Contract.load(write_v15_dir(tmp_path / "v15"))
    assert (V14.version, v15.version) != (v15.version, v15.version)  # two documents, not one read twice
    record = dict(V14.component("ImgInfo")["example"])
    # §2.3's new required field of the draft: the V1.4 record lacks it
    assert V14.validator("ImgInfo").validate(record).ok
    refused = v15.validator("ImgInfo").validate(record)
    assert [(e.code, e.rule) for e in refused.errors] == [("modality", "required")]
    # the draft's new examPart code is in the draft's dictionary only, checked by each contract's own validator
    # (a well-formed code outside V1.4's printed ones is a warning there: ERRATA, Severities)
    exam = dict(V14.component("ExamRpotImgInfo")["example"], examPart=NEW_EXAM_PART.code)
    old, new = V14.validator("ExamRpotImgInfo").validate(exam), v15.validator("ExamRpotImgInfo").validate(exam)
    assert [(a.code, a.rule) for a in old.advisories] == [("examPart", "dictionary")]
    assert new.ok and not new.advisories
    # the toolkit takes either; the process's own contract is still V1.4
    message = _img_info_message()
    assert validate_document(message, contract=V14).valid
    assert not validate_document(message, contract=v15).valid
    assert current() is V14 and current().location == BUNDLED_SPEC_DIR / "openapi.yaml"


def test_strictness_belongs_to_a_contract() -> None:
    form = dict(V14.component("SaveRptFileForm")["example"], rpotNo="R1,R2", examRpotPdf1="<file>")
    strict = V14.strictly()
    assert strict is not V14 and strict.resolved is V14.resolved  # shares what was loaded
    lenient = V14.validator("SaveRptFileForm").validate(form)
    assert lenient.ok and [a.severity for a in lenient.advisories] == ["warning"]
    refused = strict.validator("SaveRptFileForm").validate(form)
    assert not refused.ok and [e.severity for e in refused.errors] == ["error"]
    assert V14.validator("SaveRptFileForm").validate(form).ok  # the lenient contract is unchanged
    assert V14.strictly(False) is V14


def test_a_contract_loads_from_a_directory_or_its_openapi_file() -> None:
    by_directory, by_file = Contract.load(BUNDLED_SPEC_DIR), Contract.load(BUNDLED_SPEC_DIR / "openapi.yaml")
    assert by_directory.document == by_file.document == V14.document
    assert by_directory.dictionaries.keys() == V14.dictionaries.keys() and "examPart" in V14.dictionaries
    assert [t.infno for t in by_file.transactions] == [t.infno for t in V14.transactions]


def test_validate_takes_a_revision_for_one_run_and_leaves_the_process_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mie validate --spec` loads the revision it is given as a value: no environment variable is set, so the
    next run in the same process judges by the bundled contract again."""
    from mie.cli import EXIT_USAGE, main

    v15 = write_v15_dir(tmp_path / "v15")
    message = tmp_path / "2.3.json"
    message.write_text(json.dumps(_img_info_message(), ensure_ascii=False), encoding="utf-8")
    assert main(["validate", str(message), "--spec", str(v15), "--quiet"]) == 1  # V1.5: §2.3's modality required
    assert "modality" in capsys.readouterr().out
    assert main(["validate", str(message), "--quiet"]) == 0  # V1.4 again
    assert "MIE_SPEC_DIR" not in os.environ and current() is V14
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(v15 / "openapi.yaml", bare / "openapi.yaml")  # a spec without its dictionaries
    assert main(["validate", str(message), "--spec", str(bare)]) == EXIT_USAGE
    assert "dictionaries/" in capsys.readouterr().err
