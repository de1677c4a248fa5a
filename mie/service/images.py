"""Images in: saveImgInfo (§2.3, registers a study for DICOM pushes) and saveImgFile (§2.2, one file over HTTP).

Both end in the same place: §2.2's file goes through `ingest.ingest_instance`, the same function the DICOM
SCP calls.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any, BinaryIO

from generated.models import ResponseCode
from mie.contract.spec import component, load_spec, transaction
from mie.contract.validation import FieldError, Validator
from mie.service.answers import Answer, MieError, RecordResult, entry
from mie.service.envelope import Envelope, body_digest, check_envelope, read_envelope, remember_answer, replayed_answer
from mie.service.ingest import Claim, IngestRefused, ingest_instance
from mie.service.institutions import authenticate
from mie.service.messages import answer_message, refused, with_notes
from mie.store.database import Database
from mie.store.files import FileStore, FileTooLarge
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


@functools.cache
def _validator(schema_name: str) -> Validator:
    return Validator(component(schema_name))


# --- §2.3 saveImgInfo ----------------------------------------------------------------------------------------------


def _register(repository: Repository, institution: str, record: Any) -> RecordResult:
    outcome = _validator("ImgInfo").validate(record)
    raw_index = record.get("hiImgIndx") if isinstance(record, dict) else None
    if outcome.errors:
        return refused(raw_index if isinstance(raw_index, str) else None, outcome.errors)
    value = outcome.value
    index_text = value["hiImgIndx"]
    if repository.exam_owner(index_text) != institution:
        schema = component("ImgInfo")["properties"]["hiImgIndx"]
        error = FieldError(
            "hiImgIndx", "hiImgIndx", schema["title"], f"#{schema['x-seq']}", "ownership", "索引不存在或不属于本机构"
        )
        return refused(index_text, [error])
    total = int(value["imageTotalNum"])
    repository.register_study(index_text, value["studyUid"], institution, value["accessionNumber"], total)
    received = repository.received_count(index_text, value["studyUid"])
    return RecordResult(index_text, True, with_notes(REGISTERED, [*outcome.notes, f"本检查已收到 {received}/{total} 张"]))


def save_img_info(database: Database, body: Any) -> Answer:
    envelope = read_envelope(transaction("saveImgInfo"), body)

    def records(repository: Repository, institution: str) -> list[RecordResult]:
        return [_register(repository, institution, record) for record in envelope.input]

    return answer_message(database, envelope, records)


# --- §2.2 saveImgFile -----------------------------------------------------------------------------------------------


@functools.cache
def header_envelope_schema(infno: str) -> dict[str, Any]:
    """The envelope of a multipart transaction, which the table puts in request headers, as one object schema."""
    operation = load_spec()["paths"][transaction(infno).path]["post"]
    from mie.contract.spec import resolve_refs

    parameters = resolve_refs(operation["parameters"], load_spec())
    properties = {p["name"]: p["schema"] for p in parameters if p["in"] == "header"}
    return {"type": "object", "required": list(properties), "properties": properties}


def read_header_envelope(infno: str, headers: Mapping[str, str], form: Mapping[str, Any]) -> Envelope:
    """The envelope from the request headers (names are case-insensitive there), checked by the spec."""
    schema = header_envelope_schema(infno)
    names = {name.lower(): name for name in schema["properties"]}
    for field in schema["properties"].values():
        names.update({alias.lower(): alias for alias in field.get("x-aliases", ())})
    present = {names[key.lower()]: value for key, value in headers.items() if key.lower() in names}
    value = check_envelope(schema, present).value
    return Envelope(
        infno=value["infno"],
        msgid=value["msgid"],
        inf_time=value["infTime"],
        institution_code=value["infCode"],
        key=value["key"],
        input=None,
        body_sha256=body_digest({"headers": value, "form": dict(form)}),
    )


def check_form(schema_name: str, form: Mapping[str, Any], file_field: str, has_file: bool) -> dict[str, Any]:
    fields = dict(form)
    if has_file:
        fields[file_field] = "<file>"  # the file itself is checked by the transaction, not as text
    outcome = _validator(schema_name).validate(fields)
    if outcome.errors:
        raise MieError(ResponseCode.envelope_invalid, errors=outcome.errors)
    return outcome.value


def file_answer(code: ResponseCode, index_text: str | None, message: str) -> Answer:
    """§2.2/§2.4's flat answer; the index under both its names (ERRATA E-INDEX-NAME)."""
    body = {"code": code.value, "hiImgIndx": index_text, "hiImgIdx": index_text, "message": message}
    return Answer(http_status=entry(code).http_status, body=body)


def save_img_file(
    database: Database,
    store: FileStore,
    headers: Mapping[str, str],
    form: Mapping[str, Any],
    dicom: BinaryIO | None,
    max_file_bytes: int,
) -> Answer:
    """saveImgFile (§2.2): one DICOM file, streamed to disk, checked, stored once."""
    envelope = read_header_envelope("saveImgFile", headers, form)
    with database.unit_of_work() as repository:
        institution = authenticate(repository, envelope.institution_code, envelope.key)
        previous = replayed_answer(repository, institution, envelope)
    if previous is not None:
        return previous
    value = check_form("SaveImgFileForm", form, "dicom", dicom is not None)
    claim = Claim(value["hiImgIndx"], value["studyUid"], value["accessionNumber"], int(value["imageTotalNum"]))
    try:
        spooled = store.spool_stream(dicom, limit=max_file_bytes)  # type: ignore[arg-type]
    except FileTooLarge as error:
        raise MieError(ResponseCode.payload_too_large, str(error)) from None
    try:
        ingested = ingest_instance(
            database, store, spooled, institution=institution, source="http", claim=claim, expected_md5=value["fileMd5"]
        )
    except IngestRefused as refusal:
        return file_answer(
            REFUSAL_CODES[refusal.kind], claim.hi_img_indx, f"{entry(REFUSAL_CODES[refusal.kind]).name}: {refusal.reason}"
        )
    message = "成功" + ("; 该实例此前已存储" if ingested.duplicate else "") + f"; {ingested.progress()}"
    answer = file_answer(ResponseCode.success, claim.hi_img_indx, message)
    with database.unit_of_work() as repository:
        remember_answer(repository, institution, envelope, answer)
    return answer
