"""Images in: saveImgInfo (§2.3, registers a study for DICOM pushes) and saveImgFile (§2.2, one file over HTTP).

Both end in the same place: §2.2's file goes through `ingest.ingest_instance`, the same function the DICOM
SCP calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.records import check_record
from mie.contract.validation import FieldError
from mie.service.answers import Answer, RecordResult, entry, storage_unavailable
from mie.service.envelope import read_envelope, remember_answer
from mie.service.ingest import Claim, Ingested, IngestRefused, ingest_instance
from mie.service.messages import answer_message, refused, with_notes
from mie.service.pending import attach_in, attached_note
from mie.service.uploads import UploadedFile, file_answer, receive_upload
from mie.store.database import Batch, Database
from mie.store.files import FileStore, StorageUnavailable
from mie.store.repository import Repository

log = logging.getLogger("mie.images")

REGISTERED = "保存数据成功"

# How each refusal of the ingest path is answered over HTTP.
REFUSAL_CODES = {
    "md5": ResponseCode.file_md5_mismatch,
    "not_dicom": ResponseCode.file_invalid,
    "bad_uid": ResponseCode.file_invalid,
    "study_mismatch": ResponseCode.file_mismatch,
    "accession": ResponseCode.file_mismatch,
    "unknown_exam": ResponseCode.unknown_exam,
    "not_registered": ResponseCode.unknown_exam,
    "conflict": ResponseCode.instance_conflict,
}


# --- §2.3 saveImgInfo ----------------------------------------------------------------------------------------------


def _register(contract: Contract, repository: Repository, institution: str, record: Any) -> RecordResult:
    outcome = check_record(contract, contract.transaction("saveImgInfo"), record)
    raw_index = record.get("hiImgIndx") if isinstance(record, dict) else None
    if outcome.errors:
        return refused(raw_index if isinstance(raw_index, str) else None, outcome.errors)
    value = outcome.value
    index_text = value["hiImgIndx"]
    exam = repository.exam_ref(contract.index.canonical(index_text))
    if exam is None or exam.institution_code != institution:
        schema = contract.component("ImgInfo")["properties"]["hiImgIndx"]
        error = FieldError(
            "hiImgIndx", "hiImgIndx", schema["title"], f"#{schema['x-seq']}", "ownership", "索引不存在或不属于本机构"
        )
        return refused(index_text, [error])
    total = int(value["imageTotalNum"])
    repository.register_study(exam.hi_img_indx, value["studyUid"], institution, value["accessionNumber"], total)
    attached = attach_in(repository, institution, value["studyUid"])  # pushed by C-STORE before this registration
    received = repository.received_count(exam.hi_img_indx, value["studyUid"])
    notes = [*outcome.notes, *attached_note(attached), f"本检查已收到 {received}/{total} 张"]
    return RecordResult(index_text, True, with_notes(REGISTERED, notes))


def save_img_info(contract: Contract, database: Database, body: Any) -> Answer:
    envelope = read_envelope(contract, contract.transaction("saveImgInfo"), body)

    def records(repository: Repository, institution: str) -> list[RecordResult]:
        return [_register(contract, repository, institution, record) for record in envelope.input]

    return answer_message(database, envelope, records)


# --- §2.2 saveImgFile -----------------------------------------------------------------------------------------------


def save_img_file(
    contract: Contract,
    database: Database,
    store: FileStore,
    headers: Mapping[str, str],
    form: Mapping[str, Any],
    dicom: UploadedFile | None,
    max_file_bytes: int,
) -> Answer:
    """saveImgFile (§2.2): one DICOM file, streamed to disk, checked, stored once."""
    upload = receive_upload(
        contract, database, store, "saveImgFile", "SaveImgFileForm", "dicom", headers, form, dicom, max_file_bytes
    )
    if isinstance(upload, Answer):
        return upload
    value, spooled, institution, envelope = upload.value, upload.spooled, upload.institution, upload.envelope
    claim = Claim(
        value["hiImgIndx"], value["studyUid"], value["accessionNumber"], int(value["imageTotalNum"]),
        index_key=contract.index.canonical(value["hiImgIndx"]),
    )  # fmt: skip

    def stored_answer(ingested: Ingested) -> Answer:
        message = "成功" + ("; 该实例此前已存储" if ingested.duplicate else "") + f"; {ingested.progress()}"
        return file_answer(ResponseCode.success, claim.hi_img_indx, with_notes(message, upload.notes))

    def remember(batch: Batch, ingested: Ingested) -> None:
        remember_answer(batch.repository, institution, envelope, stored_answer(ingested))

    try:
        # The answer is remembered (for a replay of this msgid) in the instance's own transaction, in the ingest's
        # group commit, as the SCP's instances are committed: one writer's turn and one commit for both.
        ingested = ingest_instance(
            database, store, spooled, institution=institution, source="http", claim=claim, expected_md5=value["fileMd5"],
            then=remember,
        )  # fmt: skip
    except IngestRefused as refusal:
        return file_answer(
            REFUSAL_CODES[refusal.kind], claim.hi_img_indx, f"{entry(REFUSAL_CODES[refusal.kind]).name}: {refusal.reason}"
        )
    except StorageUnavailable as error:
        raise storage_unavailable(error) from None
    answer = stored_answer(ingested)
    if not ingested.followed:
        # Found stored by another process after the group commit failed on it: remembered on its own.
        database.message_commit.run(lambda batch: remember_answer(batch.repository, institution, envelope, answer))
    return answer
