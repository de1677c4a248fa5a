"""`mie generate --check`: passes on main, fails after any edit of the spec or a dictionary until regenerated."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mie.contract.codegen import generate
from mie.contract.spec import REPO_ROOT


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("spec", "generated"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def mie_generate(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mie.cli", "generate", "--root", str(root), *extra]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_main_is_not_stale() -> None:
    assert generate(check=True) == []


def test_an_edited_note_is_stale_until_regenerated(checkout: Path) -> None:
    spec = checkout / "spec" / "openapi.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("由国家局制定编码规则", "由国家医保局制定编码规则", 1), encoding="utf-8"
    )
    result = mie_generate(checkout, "--check")
    assert result.returncode == 1 and "stale" in result.stderr
    assert mie_generate(checkout).returncode == 0
    assert mie_generate(checkout, "--check").returncode == 0


def test_a_lengthened_field_reaches_the_models(checkout: Path) -> None:
    spec_file = checkout / "spec" / "openapi.yaml"
    spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["ExamRpotImgInfo"]["properties"]["psnName"]["maxLength"] = 80
    spec_file.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert mie_generate(checkout, "--check").returncode == 1
    assert mie_generate(checkout).returncode == 0
    models = (checkout / "generated" / "models.py").read_text(encoding="utf-8")
    assert "max_length=80" in models


def test_a_new_dictionary_code_is_bundled_into_the_spec(checkout: Path) -> None:
    gend = checkout / "spec" / "dictionaries" / "gend.yaml"
    gend.write_text(gend.read_text(encoding="utf-8") + '  - code: "5"\n    name: 测试\n', encoding="utf-8")
    result = mie_generate(checkout, "--check")
    assert result.returncode == 1 and "openapi.yaml" in result.stderr
    assert mie_generate(checkout).returncode == 0
    spec = yaml.safe_load((checkout / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
    assert "5" in spec["components"]["schemas"]["ExamRpotImgInfo"]["properties"]["gend"]["enum"]


# What a YAML 1.2 loader (js-yaml's core schema, so Prism, Spectral and other JavaScript tools) reads as a number,
# a boolean or null when written plain.
YAML_1_2_NOT_TEXT = (
    r"[-+]?(?:[0-9]+|(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)"
    r"|0o[0-7]+|0x[0-9a-fA-F]+|true|false|null|~"
)


def test_the_spec_is_read_alike_by_yaml_1_1_and_1_2() -> None:
    """A text such as hosp_lv's 08 written plain is the text '08' to PyYAML (YAML 1.1) and the integer 8 to a YAML 1.2
    loader: `mie generate` quotes every such text, so each tool reads the same dictionary."""
    plain_texts_like_numbers = []
    pending = [yaml.compose((REPO_ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:str" and node.style is None and re.fullmatch(YAML_1_2_NOT_TEXT, node.value, re.I):
                plain_texts_like_numbers.append(f"line {node.start_mark.line + 1}: {node.value}")
        elif isinstance(node, yaml.SequenceNode):
            pending += node.value
        elif isinstance(node, yaml.MappingNode):
            pending += [part for pair in node.value for part in pair]
    assert plain_texts_like_numbers == []
