"""The audit of retrieval: who looked at whose data, found by person, institution and day, never holding keys or
full identity numbers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mie.config import Settings
from mie.contract import current
from mie.runtime import Runtime
from mie.service import audit
from mie.service.audit import Access, AccessEvent, masked_certno
from mie.store.database import Database
from mie.store.files import FileStore

CERTNO = "11010119880405003X"
INDEX = f"111-{CERTNO}-20241122143000-0000000000000-000000000"


def test_events_are_found_by_person_institution_and_day(database: Database, tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path), current(), database, FileStore(tmp_path))
    audit = runtime.audit
    audit.record(AccessEvent(Access.query_index, "H52030200193", "10.1.2.3", "111", CERTNO, items=2))
    audit.record(AccessEvent(Access.fetch_image, "H52030200193", "10.1.2.3", "111", CERTNO, INDEX, items=1, bytes_sent=700))
    audit.record(AccessEvent(Access.query_index, "H11010202321", "10.9.9.9", "111", "110101197804050041"))
    audit.record(AccessEvent(Access.list_images, "H11010202321", "10.9.9.9", hi_img_indx=INDEX, outcome="refused", detail="x"))

    # the person is the same with the check character typed lower-case
    mine = audit.events(person=("111", CERTNO.lower()))
    assert [event["action"] for event in mine] == ["query-index", "fetch-image"]
    assert mine[1]["bytes_sent"] == 700 and mine[1]["source_address"] == "10.1.2.3"
    assert [event["action"] for event in audit.events(institution_code="H11010202321")] == ["query-index", "list-images"]
    today = datetime.now(UTC).date()
    assert len(audit.events(since=today, until=today)) == 4
    assert audit.events(until=date(2000, 1, 1)) == []
    assert audit.events(person=("112", CERTNO)) == []

    stored = json.dumps(audit.events(), default=str)
    assert CERTNO not in stored and CERTNO.lower() not in stored and "110101197804050041" not in stored
    assert "111:110101*****003X" in stored


def test_identity_numbers_are_masked_as_the_document_shows() -> None:
    assert masked_certno("110101197804050041") == "110101*****0041"  # the document's §2.6 answer
    assert masked_certno("11010119880405003X") == "110101*****003X"
    assert "12345678" not in masked_certno("A12345678")


def test_mie_audit_lists_and_filters(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data))
    runtime.audit.record(AccessEvent(Access.view_report, "H52030200193", "10.1.2.3", "111", CERTNO, INDEX, items=1))
    runtime.audit.record(AccessEvent(Access.view_image, "H11010202321", "10.1.2.4"))
    runtime.database.dispose()

    def audit(*options: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mie.cli", "audit", "--data-dir", str(data), *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    listed = audit("--person", f"111:{CERTNO}", "--json")
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert [(event["action"], event["institution_code"]) for event in events] == [("view-report", "H52030200193")]
    text = audit("--institution", "H11010202321")
    assert text.returncode == 0 and "view-image" in text.stdout and "view-report" not in text.stdout
    assert CERTNO not in audit().stdout
    assert audit("--person", "nocolon").returncode == 2
    assert audit("--since", "2025-13-01").returncode == 2


# A process that records audit events and dies by SIGKILL: right after recording (the events only in its journal),
# or right after committing them but before emptying its journal (they would come back twice if recovery did not
# tell them apart).
_DIES = """
import os, signal, sys
from pathlib import Path
from mie.config import Settings
from mie.runtime import Runtime
from mie.service.audit import Access, AccessEvent

runtime = Runtime.open(Settings(data_dir=Path(sys.argv[1])), recover=False)
for n in range(3):
    runtime.audit.record(AccessEvent(Access.fetch_image, "H52030200193", "10.1.2.3", items=1, bytes_sent=int(sys.argv[2]) + n))
if sys.argv[3] == "after-commit":
    os.ftruncate = lambda *_: os.kill(os.getpid(), signal.SIGKILL)  # the moment the journal would be emptied
    runtime.audit.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crash_loses_no_recorded_event_and_recovery_commits_each_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Runtime.open(Settings(data_dir=data)).database.dispose()
    for start, when in ((100, "before-commit"), (200, "after-commit")):
        died = subprocess.run([sys.executable, "-c", _DIES, str(data), str(start), when], capture_output=True, timeout=120)
        assert died.returncode == -9, died.stderr
    runtime = Runtime.open(Settings(data_dir=data))  # start-up recovery commits the journals of the dead processes
    try:
        assert sorted(event["bytes_sent"] for event in runtime.audit.events()) == [100, 101, 102, 200, 201, 202]
    finally:
        runtime.database.dispose()
    assert not list((data / "audit-journal").glob("*.jsonl"))


def test_a_running_process_commits_the_journal_of_one_killed_beside_it(tmp_path: Path, monkeypatch: Any) -> None:
    """A worker killed while its siblings run (uvicorn kills one that misses its health check): its journaled events
    reach the database through a sibling's drainer, without waiting for the next start-up."""
    monkeypatch.setattr(audit, "ADOPT_SECONDS", 0.2)
    data = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data))
    try:
        runtime.audit.record(AccessEvent(Access.fetch_image, "H52030200193", "10.1.2.3", items=1, bytes_sent=1))
        died = subprocess.run([sys.executable, "-c", _DIES, str(data), "300", "before-commit"], capture_output=True, timeout=120)
        assert died.returncode == -9, died.stderr
        deadline = time.monotonic() + 30
        while len(sent := sorted(event["bytes_sent"] for event in runtime.audit.events())) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sent == [1, 300, 301, 302]
    finally:
        runtime.database.dispose()
