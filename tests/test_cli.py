"""The command line: `mie serve` from the environment, institutions, offline validation; stable exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import KEY, SAVE_EXAM, document_example, free_port

MIE = [sys.executable, "-m", "mie.cli"]


def mie(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIE, *args], capture_output=True, text=True, env=env, input=stdin, check=False, timeout=120)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """`mie serve` configured only through MIE_ variables; yields (base URL, data dir, its output so far)."""
    port = free_port()
    data_dir = tmp_path / "data"
    env = {**os.environ, "MIE_HTTP_PORT": str(port), "MIE_DATA_DIR": str(data_dir), "MIE_HOST": "127.0.0.1"}
    assert mie("institution", "add", "H11010202321", "--key", KEY, env=env).returncode == 0
    process = subprocess.Popen([*MIE, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Application startup complete" in line:  # a worker serves (with several, the parent says "running" first)
            break
    try:
        yield base, data_dir, "".join(lines)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_says_where_it_listens_and_saves_the_example(served: tuple[str, Path, str]) -> None:
    base, data_dir, output = served
    assert f"HTTP on {base}/mie/api/mie/" in output and str(data_dir.resolve()) in output
    assert (data_dir / "mie.sqlite3").exists()
    answer = httpx.post(base + SAVE_EXAM, json=document_example(), timeout=30)
    assert answer.status_code == 200 and answer.json()["data"][0]["succFlag"] == "1"
    assert "成功" in answer.text  # Chinese is sent as itself, not as \\u escapes
    assert httpx.get(base + "/openapi.json").json()["info"]["version"] == "1.4"
    assert yaml.safe_load(httpx.get(base + "/openapi.yaml", timeout=30).text)["openapi"] == "3.0.3"  # dumped per request
    assert httpx.get(base + "/docs/").status_code == 200


def test_validate_reports_in_the_spec_terms_with_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document_example(), ensure_ascii=False), encoding="utf-8")
    result = mie("validate", str(good))
    assert result.returncode == 0 and "符合规范" in result.stdout

    broken = document_example()
    broken["input"][0]["examPart"] = "XYZ"
    del broken["input"][0]["psnName"]
    result = mie("validate", "-", "--json", stdin=json.dumps(broken, ensure_ascii=False))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    messages = [finding["message"] for finding in report["reports"][0]["findings"]]
    assert "psnName(人员姓名,#2): 必填项缺失" in messages
    assert "examPart(检查部位代码,#13): 'XYZ' 不在字典 examPart 中" in messages

    assert mie("validate", "-", stdin="{not json").returncode == 1
    assert mie("frobnicate").returncode == 2


def test_institution_list_never_shows_keys(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert mie("institution", "add", "H52030200193", "--key", "secret-52", "--name", "遵义医院", *data).returncode == 0
    listing = mie("institution", "list", *data)
    assert "H52030200193" in listing.stdout and "遵义医院" in listing.stdout and "secret-52" not in listing.stdout
    assert b"secret-52" not in (tmp_path / "mie.sqlite3").read_bytes()  # stored only as a scrypt hash
