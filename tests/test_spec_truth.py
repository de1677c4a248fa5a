"""Spec revisions: spec/dictionaries/ is the truth for `mie spec diff` and `mie validate --spec`, a directory whose
openapi.yaml disagrees with its dictionaries is named as stale, and `mie generate` needs no checkout around it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mie.cli import main
from mie.contract import Contract
from mie.contract.spec import REPO_ROOT
from mie.toolkit.specdiff import SENDERS, diff_files
from tests.conftest import document_example

SPEC = REPO_ROOT / "spec"


@pytest.fixture
def without_female(tmp_path: Path) -> Path:
    """The spec directory with gend's code "2" (女) removed from its dictionary file only: openapi.yaml not regenerated."""
    revision = tmp_path / "spec"
    shutil.copytree(SPEC, revision)
    gend = revision / "dictionaries" / "gend.yaml"
    text = gend.read_text(encoding="utf-8")
    assert '  - code: "2"\n    name: 女\n' in text
    gend.write_text(text.replace('  - code: "2"\n    name: 女\n', ""), encoding="utf-8")
    return revision


def test_the_bundled_spec_agrees_with_its_dictionaries() -> None:
    assert Contract.load(SPEC).stale_dictionaries == []


def test_a_code_removed_only_from_the_dictionaries_is_a_change_and_the_spec_is_stale(
    without_female: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert Contract.load(without_female).stale_dictionaries == ["gend"]
    result = diff_files(SPEC, without_female)
    removed = [change for change in result.changes if change.kind == "codes-removed" and change.code == "gend"]
    assert removed and all(change.old == ["2"] and change.breaks == (SENDERS,) for change in removed), result.changes
    assert len(result.stale) == 1 and "字典 gend" in result.stale[0] and str(without_female) in result.stale[0]
    assert main(["spec", "diff", str(SPEC), str(without_female)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("注意: ") and "不一致 (字典 gend)" in out and "mie generate" in out
    assert main(["spec", "diff", "--json", str(SPEC), str(without_female)]) == 1
    assert json.loads(capsys.readouterr().out)["stale"] == result.stale


def test_mie_validate_reads_the_dictionaries_and_says_the_spec_is_stale(
    without_female: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = document_example()
    message["input"][0]["gend"] = "2"
    body = tmp_path / "female.json"
    body.write_text(json.dumps(message, ensure_ascii=False), encoding="utf-8")
    assert main(["validate", str(body)]) == 0
    capsys.readouterr()
    assert main(["validate", "--spec", str(without_female), str(body)]) == 1
    captured = capsys.readouterr()
    assert "gend" in captured.out and "不在字典 gend 中" in captured.out
    assert "注意: " in captured.err and "不一致 (字典 gend)" in captured.err


def test_mie_generate_needs_no_checkout_around_the_spec(tmp_path: Path) -> None:
    """Only spec/ and generated/ (no pyproject.toml configures the generator), run from elsewhere: the same models."""
    for name in ("spec", "generated"):
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    command = [sys.executable, "-m", "mie.cli", "generate", "--check", "--root", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "agree" in result.stdout
