"""A V1.5 draft of the contract, made from spec/openapi.yaml by planting known changes, as an editor would make them:
edit the spec and a dictionary file, then bundle the dictionaries as `mie generate` does.

Tests build it from the current spec (so it follows every later edit of V1.4); to look at it:
`python -m tests.spec_revision tests/data/openapi-v1.5.yaml` (the file is not kept in the repository), or
`python -m tests.spec_revision --checkout DIR` for a checkout-like directory that `mie generate --root DIR` and
`MIE_SPEC_DIR=DIR/spec mie serve` take (tests/test_spec_revision_end_to_end.py).
"""

from __future__ import annotations

import copy
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from mie.contract.codegen import dump_spec
from mie.contract.dictionaries import Code, bundle, read_dictionaries
from mie.contract.spec import REPO_ROOT, load_yaml

SPEC = REPO_ROOT / "spec"
NEW_EXAM_PART = Code("B03FZYZZZ", "眼眶 MRI 普通扫描（平扫）")

# What the draft changes, as `mie spec diff` should report it: (route, kind, field path, senders?, receivers?).
PLANTED = {
    # a new optional field in §2.1: a receiver on V1.4 ignores it (records take unknown fields)
    ("/mie/api/mie/saveExamRpotImgInfo", "field-added", "input[].imgQltyCtrlRslt", False, False),
    # a lengthened field: a receiver on V1.4 refuses the longer values
    ("/mie/api/mie/saveExamRpotImgInfo", "maxLength-changed", "input[].rpotNo", False, True),
    # a new examPart code, wherever the dictionary is a request's
    ("/mie/api/mie/saveExamRpotImgInfo", "codes-added", "input[].examPart", False, True),
    ("/mie/api/mie/saveExamRpotImgInfo", "codes-added", "input[].setlInfoList[].examPart", False, True),
    # a new required field in §2.3: a sender on V1.4 does not send it
    ("/mie/api/mie/saveImgInfo", "field-added", "input[].modality", True, False),
    # a field renamed, its old name kept as an alias: V1.4 senders go on; the field is optional, so a V1.4
    # receiver ignores the new name rather than refusing the record
    ("/mie/api/mie/saveExamRpotImgInfo", "field-renamed", "input[].chfCompl", False, False),
}


def _insert_after(mapping: dict[str, Any], after: str, key: str, value: Any) -> None:
    items = list(mapping.items())
    mapping.clear()
    for name, existing in items:
        mapping[name] = existing
        if name == after:
            mapping[key] = value


def v15_spec() -> dict[str, Any]:
    spec = copy.deepcopy(load_yaml(SPEC / "openapi.yaml"))
    spec["info"]["version"] = "1.5"
    schemas = spec["components"]["schemas"]
    exam = schemas["ExamRpotImgInfo"]["properties"]
    last_seq = max(field["x-seq"] for field in exam.values() if isinstance(field.get("x-seq"), int))
    exam["imgQltyCtrlRslt"] = {
        "title": "影像质控结果",
        "description": "V1.5 草案: 影像质量控制结果。",
        "x-seq": last_seq + 1,
        "x-type": "String",
        "x-length": "50",
        "type": "string",
        "maxLength": 50,
    }
    exam["rpotNo"]["maxLength"] = 100
    exam["rpotNo"]["x-length"] = "100"
    renamed = exam.pop("chfcomp")
    _insert_after(exam, "illhis", "chfCompl", {**renamed, "x-aliases": ["chfcomp"]})
    img_info = schemas["ImgInfo"]
    img_info["properties"]["modality"] = {
        "title": "检查设备类型",
        "description": "V1.5 草案: 影像的 Modality (0008,0060)。",
        "x-seq": 5,
        "x-type": "String",
        "x-length": "16",
        "type": "string",
        "maxLength": 16,
        "minLength": 1,
    }
    img_info["required"].append("modality")
    # The editor keeps the transaction's example valid: a required field appears in it.
    example = spec["paths"]["/mie/api/mie/saveImgInfo"]["post"]["requestBody"]["content"]["application/json"]["example"]
    for record in example["input"]:
        record["modality"] = "CT"
    dictionaries = read_dictionaries(SPEC / "dictionaries")
    exam_part = dictionaries["examPart"]
    dictionaries["examPart"] = replace(exam_part, codes=(*exam_part.codes, NEW_EXAM_PART))
    return bundle(spec, dictionaries)


def write_v15(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_spec(v15_spec()), encoding="utf-8")
    return path


def write_v15_dir(directory: Path) -> Path:
    """A spec directory of the draft, as `mie generate` would leave it: openapi.yaml and its dictionaries."""
    write_v15(directory / "openapi.yaml")
    (directory / "dictionaries").mkdir(exist_ok=True)
    for source in (SPEC / "dictionaries").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.stem == "examPart":
            text = text.rstrip("\n") + f'\n  - code: "{NEW_EXAM_PART.code}"\n    name: {NEW_EXAM_PART.name}\n'
        (directory / "dictionaries" / source.name).write_text(text, encoding="utf-8")
    return directory


def write_v15_checkout(root: Path) -> Path:
    """The draft as an editor leaves a checkout before `mie generate`: spec/ as `write_v15_dir` writes it, and the
    checkout's pyproject.toml, whose [tool.datamodel-codegen] the generator reads. Returns `root`."""
    write_v15_dir(root / "spec")
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


if __name__ == "__main__":
    if sys.argv[1:2] == ["--checkout"]:
        print(write_v15_checkout(Path(sys.argv[2])))
    else:
        print(write_v15(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/openapi-v1.5.yaml")))
