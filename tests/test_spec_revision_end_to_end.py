"""A spec revision end to end (issue 8, item 5), as README "When the specification changes" documents it: the V1.5
draft (tests/spec_revision.py) is written into a checkout-like directory, `mie generate --root` gives models with the
new fields, `mie spec diff` reports exactly the planted changes, `mie serve` on the draft (MIE_SPEC_DIR, with the
draft's schema revision through MIE_MIGRATIONS) takes V1.5 messages with no handler edited, and `mie conformance
--spec` of the draft against it is clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from mie.contract.spec import REPO_ROOT
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY, SAVE_EXAM, exam_message, img_info_message
from tests.retrieval_helpers import person_record
from tests.spec_revision import NEW_EXAM_PART, PLANTED, write_v15_checkout
from tests.test_cli import free_port
from tests.test_crash import server_log, start_server
from tests.test_migrations import V15, V15_MIGRATIONS

MIE = [sys.executable, "-m", "mie.cli"]


def mie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIE, *args], capture_output=True, text=True, timeout=300, check=False)


def test_the_v15_draft_from_spec_edit_to_a_clean_conformance_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = write_v15_checkout(tmp_path / "checkout")
    draft = checkout / "spec" / "openapi.yaml"

    # mie generate: models follow the spec; nothing is stale afterwards
    assert mie("generate", "--root", str(checkout)).returncode == 0
    assert mie("generate", "--root", str(checkout), "--check").returncode == 0
    models = (checkout / "generated" / "models.py").read_text(encoding="utf-8")
    assert 'modality: Annotated[str, Field(max_length=16, min_length=1, title="检查设备类型")]' in models  # required
    assert "img_qlty_ctrl_rslt:" in models and 'alias="chfCompl"' in models and f'"{NEW_EXAM_PART.code}"' in models
    assert "img_qlty_ctrl_rslt" not in (REPO_ROOT / "generated" / "models.py").read_text(encoding="utf-8")

    # mie spec diff: exactly the planted changes, and breaking ones exit 1 for CI to gate on
    diff = mie("spec", "diff", str(REPO_ROOT / "spec" / "openapi.yaml"), str(draft), "--json")
    assert diff.returncode == 1, diff.stderr
    changes = json.loads(diff.stdout)["changes"]
    found = {(c["transaction"], c["kind"], c["path"], c["breaking_for_senders"], c["breaking_for_receivers"]) for c in changes}
    assert found == PLANTED

    # mie serve on the draft: the spec directory and the draft's schema revision, by environment (start_server passes it on)
    monkeypatch.setenv("MIE_SPEC_DIR", str(checkout / "spec"))
    monkeypatch.setenv("MIE_MIGRATIONS", str(V15_MIGRATIONS))
    data_dir, database = tmp_path / "data", tmp_path / "v15.sqlite3"
    url = f"sqlite:///{database}"
    for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, OTHER_KEY)):
        assert mie("institution", "add", code, "--key", key, "--data-dir", str(data_dir), "--database-url", url).returncode == 0
    assert V15 in mie("db", "current", "--database-url", url).stdout  # a new database is made at the draft's head
    port = free_port()
    server = start_server(data_dir, url, port, 0)
    base = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{base}/openapi.json", timeout=10).json()["info"]["version"] == "1.5"

        # V1.5 messages, handled by the unchanged handlers: the new and renamed fields are kept in the whole record
        record = person_record(imgQltyCtrlRslt="合格", rpotNo="R" * 100, examPart=NEW_EXAM_PART.code)
        record["chfcomp"] = record.pop("chfcomp", None) or "头痛三天"  # the old name, still accepted as an alias
        answer = httpx.post(f"{base}{SAVE_EXAM}", json=exam_message(record), timeout=30).json()
        assert answer["code"] == 0, answer
        without = img_info_message(record)
        refused = httpx.post(f"{base}/mie/api/mie/saveImgInfo", json=without, timeout=30).json()
        assert refused["code"] != 0 and "modality(检查设备类型" in json.dumps(refused, ensure_ascii=False)
        with_modality = img_info_message(record)
        with_modality["input"][0]["modality"] = "CT"
        assert httpx.post(f"{base}/mie/api/mie/saveImgInfo", json=with_modality, timeout=30).json()["code"] == 0

        # mie conformance --spec the draft: clean
        command = ["conformance", base, "--spec", str(draft), "--institution", INSTITUTION, "--key", KEY]
        result = mie(*command, "--institution", OTHER_INSTITUTION, "--key", OTHER_KEY, "--seed", "7", "--max-examples", "2")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("mie conformance: 符合规范")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in server_log(data_dir).read_text()

    engine = create_engine(url)
    with engine.connect() as connection:
        kept = connection.execute(
            text("select record from exam_record where hi_img_indx = :indx"), {"indx": record["hiImgIndx"]}
        ).scalar_one()
    engine.dispose()
    kept = json.loads(kept) if isinstance(kept, str) else kept
    assert kept["imgQltyCtrlRslt"] == "合格" and kept["rpotNo"] == "R" * 100 and kept["examPart"] == NEW_EXAM_PART.code
