"""Exam records: saveExamRpotImgInfo (§2.1) and deleteExamRpotImgIdxInfo (§2.5).

Each record is validated and answered on its own; the good records of a message are saved even when
others are refused. A message is one database transaction together with its msgid, so a replay never
writes twice and a failure leaves nothing half-written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlmodel import select

from mie.contract import Contract
from mie.contract.records import check_delete_item, check_exam_record, index_field_error
from mie.contract.validation import Outcome, mask
from mie.service.answers import Answer, RecordResult
from mie.service.envelope import Envelope, read_envelope
from mie.service.messages import answer_message, refused, with_notes
from mie.service.pending import attach_in, attached_note
from mie.store.database import Database
from mie.store.files import FileStore
from mie.store.repository import Repository
from mie.store.tables import ExamRecord, ExamRecordHistory

log = logging.getLogger("mie.exams")

SAVED = "保存数据成功"
DELETED = "删除数据成功"


def _save_record(
    contract: Contract, repository: Repository, institution: str, envelope: Envelope, record: Any, outcome: Outcome
) -> RecordResult:
    raw_index = record.get("hiImgIndx") if isinstance(record, dict) else None
    if outcome.errors:
        return refused(raw_index if isinstance(raw_index, str) else None, outcome.errors)
    value: dict[str, Any] = outcome.value
    index_text = value["hiImgIndx"]
    index_key = contract.index.canonical(index_text)
    key_columns = {
        "hi_img_indx": index_text,
        "index_key": index_key,
        "institution_code": institution,
        "psn_cert_type": value["psnCertType"],
        "certno": value["certno"].upper(),  # as the index's part 2 has it: §2.6 finds 003x and 003X alike
        "exam_date": value["examDate"],
        "study_uid": value["studyUid"],
        "msgid": envelope.msgid,
    }
    settlements = [
        {"setl_id": s["setlId"], "med_list_codg": s["medListCodg"], "feedetl_sn": s["feedetlSn"], "exam_part": s["examPart"]}
        for s in value["setlInfoList"]
    ]
    previous = repository.exam_of_key(index_key)  # saved in either spelling of the index (ERRATA E-INDEX-SPELLING)
    notes = list(outcome.notes)
    if previous is None:
        repository.add_exam(key_columns, value, settlements)
        action, version = "save", 1
    elif previous.institution_code != institution:
        return refused(index_text, [index_field_error(contract, "该索引已由其他机构上传, 不能覆盖", rule="ownership")])
    else:
        version = repository.replace_exam(previous, key_columns, value, settlements)
        action = "update"
        notes.append(f"已更新 (第 {version} 版), 旧版本已存入历史")
    if previous is not None:  # a change to data already held; a first save is on record in its message row
        repository.audit(institution, action, previous.hi_img_indx, f"msgid={envelope.msgid} version={version}")
    # images pushed by C-STORE before this record, of the study and accession number it names
    notes += attached_note(attach_in(repository, institution, value["studyUid"]))
    return RecordResult(index_text, True, with_notes(SAVED, notes))


def save_exam_records(contract: Contract, database: Database, body: Any, checked: Outcome | None = None) -> Answer:
    """saveExamRpotImgInfo (§2.1). `checked`: the envelope's outcome when the caller has already validated it
    (see read_envelope); without it, the envelope is validated here."""
    envelope = read_envelope(contract, contract.transaction("saveExamRpotImgInfo"), body, checked)
    # Checked before the unit of work begins: the database's write lock is held only for the writes.
    checked = [(record, check_exam_record(contract, record)) for record in envelope.input]

    def records(repository: Repository, institution: str) -> list[RecordResult]:
        return [_save_record(contract, repository, institution, envelope, record, outcome) for record, outcome in checked]

    return answer_message(database, envelope, records)


def _delete_record(
    contract: Contract, repository: Repository, institution: str, envelope: Envelope, item: Any, files: list[str]
) -> RecordResult:
    outcome = check_delete_item(contract, item)
    index_text = outcome.value
    if outcome.errors or index_text is None:
        return refused(item if isinstance(item, str) else None, outcome.errors)
    exam = repository.exam_ref(contract.index.canonical(index_text))
    if exam is None:
        return refused(index_text, [index_field_error(contract, "索引不存在, 未删除", rule="ownership")])
    if exam.institution_code != institution:
        return refused(index_text, [index_field_error(contract, "该索引由其他机构上传, 不能删除", rule="ownership")])
    files += repository.delete_exam(exam.hi_img_indx)
    repository.audit(institution, "delete", exam.hi_img_indx, f"msgid={envelope.msgid}")
    log.info("deleted %s for %s", mask(index_text), institution)
    return RecordResult(index_text, True, DELETED)


def delete_exam_records(contract: Contract, database: Database, store: FileStore, body: Any) -> Answer:
    """deleteExamRpotImgIdxInfo (§2.5): records, studies and instances go, and then their files."""
    envelope = read_envelope(contract, contract.transaction("deleteExamRpotImgIdxInfo"), body)
    files: list[str] = []

    def records(repository: Repository, institution: str) -> list[RecordResult]:
        files.clear()  # a retried unit of work starts again
        return [_delete_record(contract, repository, institution, envelope, item, files) for item in envelope.input]

    answer = answer_message(database, envelope, records)
    # Only once the rows are gone for good; a crash in between leaves files no row knows, which
    # FileStore.recover removes at the next start.
    for relative in files:
        store.remove(Path(relative))
    return answer


def exam_record(database: Database, index_text: str) -> ExamRecord | None:
    with database.session() as session:
        return session.get(ExamRecord, index_text)


def exam_history(database: Database, index_text: str) -> list[ExamRecordHistory]:
    with database.session() as session:
        query = select(ExamRecordHistory).where(ExamRecordHistory.hi_img_indx == index_text)
        return list(session.exec(query.order_by(ExamRecordHistory.version)))  # type: ignore[arg-type]
