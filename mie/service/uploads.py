"""What the two file uploads (§2.2 saveImgFile, §2.4 saveRptFile) share: the envelope in request headers,
the form checked by the spec, the file streamed to disk, and their flat answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.spec import resolve_refs
from mie.contract.validation import Outcome
from mie.service.answers import Answer, MieError, entry, fitting_index
from mie.service.envelope import Envelope, body_digest, check_envelope, replayed_answer
from mie.service.ingest import HEADER_PREFIX
from mie.service.institutions import authenticate
from mie.store.database import Database
from mie.store.files import FileStore, FileTooLarge, Spooled, SpoolWriter

UploadedFile = BinaryIO | SpoolWriter
"""A file part as the service gets it: a stream to spool, or already written into the spool as the body arrived
(mie.web.uploads), complete but not yet fsynced."""

__all__ = ["FileTooLarge", "SpoolWriter", "UploadedFile", "open_upload_spool"]  # what the HTTP layer streams with


def open_upload_spool(store: FileStore) -> SpoolWriter:
    """Where a file part is written as the body arrives: mie's spool, its first bytes kept in memory for the DICOM
    header (read from there, not reopened)."""
    return store.open_spool(keep_head=HEADER_PREFIX)


@dataclass(frozen=True)
class FileUpload:
    """An authenticated, new (not replayed) upload: its envelope, checked form fields and spooled file."""

    envelope: Envelope
    institution: str
    value: dict[str, Any]
    spooled: Spooled
    notes: list[str]  # what the answer names beside its result: warnings, information, aliases read


def header_envelope_schema(contract: Contract, infno: str) -> dict[str, Any]:
    """The envelope of a multipart transaction, which the table puts in request headers, as one object schema."""

    def build() -> dict[str, Any]:
        operation = contract.operation(contract.transaction(infno))
        parameters = resolve_refs(operation["parameters"], contract.document)
        properties = {p["name"]: p["schema"] for p in parameters if p["in"] == "header"}
        return {"type": "object", "required": list(properties), "properties": properties}

    return contract.memo(f"header-envelope:{infno}", build)


def read_header_envelope(contract: Contract, infno: str, headers: Mapping[str, str], form: Mapping[str, Any]) -> Envelope:
    """The envelope from the request headers (names are case-insensitive there), checked by the spec."""
    schema = header_envelope_schema(contract, infno)
    names = {name.lower(): name for name in schema["properties"]}
    for field in schema["properties"].values():
        names.update({alias.lower(): alias for alias in field.get("x-aliases", ())})
    present = {names[key.lower()]: value for key, value in headers.items() if key.lower() in names}
    outcome = check_envelope(contract, schema, present)
    value = outcome.value
    return Envelope(
        infno=value["infno"],
        msgid=value["msgid"],
        inf_time=value["infTime"],
        institution_code=value["infCode"],
        key=value["key"],
        input=None,
        body_sha256=body_digest({"headers": value, "form": dict(form)}),
        notes=outcome.notes,
    )


def check_form(contract: Contract, schema_name: str, form: Mapping[str, Any], file_field: str, has_file: bool) -> Outcome:
    fields = dict(form)
    if has_file:
        fields[file_field] = "<file>"  # the file itself is checked by the transaction, not as text
    else:
        fields.pop(file_field, None)  # a text part of the file's name is no file: the field is missing
    outcome = contract.validator(schema_name).validate(fields)
    if outcome.errors:
        raise MieError(ResponseCode.envelope_invalid, errors=outcome.errors)
    return outcome


def file_answer(code: ResponseCode, index_text: str | None, message: str) -> Answer:
    """§2.2/§2.4's flat answer; the index under both its names (ERRATA E-INDEX-NAME). A refusal is also the spec's
    error envelope (its 4xx answers are ErrorResponse: `type` and `data` besides the flat fields)."""
    index = fitting_index(index_text)
    body: dict[str, Any] = {"code": code.value, "hiImgIndx": index, "hiImgIdx": index, "message": message}
    if code is not ResponseCode.success:
        body = {"code": code.value, "type": "error", "message": message, "data": None, "hiImgIndx": index, "hiImgIdx": index}
    return Answer(http_status=entry(code).http_status, body=body)


def receive_upload(
    contract: Contract,
    database: Database,
    store: FileStore,
    infno: str,
    form_schema: str,
    file_field: str,
    headers: Mapping[str, str],
    form: Mapping[str, Any],
    file: UploadedFile | None,
    max_file_bytes: int,
) -> FileUpload | Answer:
    """Authenticate, answer a replay with its first answer, check the form, spool the file (bounded). A file
    already in the spool (a SpoolWriter) is made durable here (fsync); the caller discards it in the end, which
    removes it unless it was kept here."""
    envelope = read_header_envelope(contract, infno, headers, form)
    with database.reading() as repository:  # reads only: no writer's turn taken on SQLite
        institution = authenticate(repository, envelope.institution_code, envelope.key)
        previous = replayed_answer(repository, institution, envelope)
    if previous is not None:
        return previous
    checked = check_form(contract, form_schema, form, file_field, file is not None)
    assert file is not None  # the form check refuses a missing file part
    try:
        if isinstance(file, SpoolWriter):
            if file.size > max_file_bytes:
                raise FileTooLarge(max_file_bytes)
            spooled = file.finish(keep=True)
        else:
            spooled = store.spool_stream(file, limit=max_file_bytes)
    except FileTooLarge as error:
        raise MieError(ResponseCode.payload_too_large, str(error)) from None
    return FileUpload(envelope, institution, checked.value, spooled, [*envelope.notes, *checked.notes])
