"""§2.1 messages arriving together share one transaction (the message group commit), each answered on its own;
over HTTP the body is parsed and its envelope checked once. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from mie.contract import Contract, current
from mie.runtime import Runtime
from mie.service import envelope, exams
from mie.service.answers import Answer, MieError
from mie.web import queries, validators
from tests.conftest import SAVE_EXAM, exam_message, exam_record


def test_over_http_the_envelope_is_checked_once(client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = envelope.check_envelope

    def counted(contract: Contract, schema: dict[str, Any], body: Any) -> Any:
        calls.append(1)
        return original(contract, schema, body)

    monkeypatch.setattr(envelope, "check_envelope", counted)
    monkeypatch.setattr(validators, "check_envelope", counted)
    monkeypatch.setattr(queries, "check_envelope", counted)  # §2.1 is taken by the lean layer (mie.web.queries)
    answer = client.post(SAVE_EXAM, json=exam_message(exam_record()))
    assert answer.status_code == 200 and answer.json()["data"][0]["succFlag"] == "1"
    assert len(calls) == 1


def test_without_http_the_service_still_checks_the_envelope(runtime: Runtime) -> None:
    message = exam_message(exam_record())
    del message["msgid"]
    with pytest.raises(MieError) as refused:
        exams.save_exam_records(runtime.contract, runtime.database, message)
    assert "msgid" in refused.value.answer().body["message"]


def test_messages_arriving_together_share_one_commit_and_keep_their_own_answers(runtime: Runtime) -> None:
    database = runtime.database
    good = [exam_message(exam_record()) for _ in range(3)]
    bad_key = exam_message(exam_record(), key="NOT-THE-KEY-0000000")
    replay = good[0]  # the same message twice in one batch: the second gets the first's answer
    messages = [*good, bad_key, replay]
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: commits.append(1))
    results: dict[int, Answer | BaseException] = {}

    def send(number: int) -> None:
        try:
            results[number] = exams.save_exam_records(current(), database, messages[number])
        except BaseException as error:  # noqa: BLE001 - kept to be checked below
            results[number] = error

    commit = database.message_commit
    deadline = time.monotonic() + 30
    with commit._turn:  # the writer is busy: every message queues behind it
        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(messages))]
        for thread in threads:
            thread.start()
            while len(commit._queued) <= threads.index(thread) and time.monotonic() < deadline:  # in order: replay last
                time.sleep(0.001)
    for thread in threads:
        thread.join(30)
    assert len(commits) == 1
    for number in range(3):
        answer = results[number]
        assert isinstance(answer, Answer) and answer.body["data"][0]["succFlag"] == "1"
        assert exams.exam_record(database, messages[number]["input"][0]["hiImgIndx"]) is not None
    refusal = results[3]
    assert isinstance(refusal, MieError) and refusal.answer().body["code"] == 2001
    assert exams.exam_record(database, bad_key["input"][0]["hiImgIndx"]) is None
    first, again = results[0], results[4]
    assert isinstance(first, Answer) and isinstance(again, Answer) and again.body == first.body
    assert exams.exam_history(database, good[0]["input"][0]["hiImgIndx"]) == []
