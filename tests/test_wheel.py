"""Installable on its own: the wheel carries the spec and its dictionaries (mie/spec, package data), and `pip install`
of it into a clean virtual environment gives `mie validate`, `spec diff`, `conformance`, `proxy` and the client, run
from elsewhere, without the checkout. One build and one install (from PyPI, through pip's cache), for the module."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from mie.contract.spec import REPO_ROOT
from tests.conftest import INSTITUTION, KEY
from tests.test_conformance import serve

SOURCES = ("pyproject.toml", "README.md", "mie", "generated", "handlers", "spec")


def run(*command: str | Path, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "MIE_SPEC_DIR")}
    return subprocess.run([str(part) for part in command], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with the wheel built from this checkout installed; its bin/ directory."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():  # as it is: mie/spec stays the link to spec/ it is in the checkout
            shutil.copytree(origin, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, source / name)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", source, cwd=root)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("mie-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    installed = run(bin_dir / "python", "-m", "pip", "install", "--quiet", wheel, cwd=root)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return bin_dir


def request_examples() -> dict[str, Any]:
    """Every JSON request example of the spec, by a file name."""
    spec = yaml.safe_load((REPO_ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        media = item["post"].get("requestBody", {}).get("content", {}).get("application/json")
        if media is None:
            continue
        name = path.rsplit("/", 1)[-1]
        if "example" in media:
            found[f"{name}.json"] = media["example"]
        for key, example in media.get("examples", {}).items():
            found[f"{name}-{key}.json"] = example["value"]
    return found


def test_the_installed_wheel_validates_the_spec_examples_without_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = run(installed / "python", "-c", "import mie, mie.contract.spec as s; print(mie.__file__); print(s.BUNDLED_SPEC_DIR)",
                cwd=tmp_path)  # fmt: skip
    package, spec_dir = where.stdout.split()
    assert Path(package).is_relative_to(installed.parent) and not Path(package).is_relative_to(REPO_ROOT), where
    spec_dir_path = Path(spec_dir)
    assert (spec_dir_path / "openapi.yaml").is_file() and (spec_dir_path / "dictionaries" / "gend.yaml").is_file()
    assert not spec_dir_path.is_symlink()

    examples = tmp_path / "examples"
    examples.mkdir()
    for name, body in request_examples().items():
        (examples / name).write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    assert len(list(examples.iterdir())) >= 5  # §2.1, §2.3, §2.5, §2.6, §2.7 and §2.8
    validated = run(installed / "mie", "validate", examples, cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]
    assert "不符合规范" not in validated.stdout
    broken = json.loads((examples / "saveExamRpotImgInfo.json").read_text(encoding="utf-8"))
    broken["input"][0]["gend"] = "X"
    (tmp_path / "broken.json").write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    refused = run(installed / "mie", "validate", tmp_path / "broken.json", cwd=tmp_path)
    assert refused.returncode == 1 and "不在字典 gend 中" in refused.stdout, refused.stdout[-2000:]

    same = run(installed / "mie", "spec", "diff", spec_dir_path, spec_dir_path, cwd=tmp_path)
    assert same.returncode == 0 and "0 处变更" in same.stdout, same.stdout + same.stderr
    for command in (("conformance", "--help"), ("proxy", "--help")):
        helped = run(installed / "mie", *command, cwd=tmp_path)
        assert helped.returncode == 0 and "usage: mie" in helped.stdout, helped.stderr[-2000:]
    client = run(installed / "python", "-c", "from mie.client import MieClient; print(MieClient.__name__)", cwd=tmp_path)
    assert client.returncode == 0 and client.stdout.strip() == "MieClient", client.stderr[-2000:]


def test_the_installed_wheels_conformance_run_passes_against_a_served_mie(installed: Path, tmp_path: Path) -> None:
    """What a vendor's CI does with the wheel alone: `mie conformance` with JUnit output against a processor."""
    server, base = serve(tmp_path, f"sqlite:///{tmp_path / 'served.sqlite3'}")
    junit = tmp_path / "conformance.xml"
    try:
        result = run(installed / "mie", "conformance", base, "--institution", INSTITUTION, "--key", KEY,
                     "--max-examples", "1", "--seed", "7", "--junit", junit, cwd=tmp_path, timeout=300)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("mie conformance: 符合规范"), result.stdout + result.stderr
    root = ElementTree.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "0" and int(root.get("tests") or 0) > 0
