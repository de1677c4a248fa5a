"""Retrieval (调阅): §2.6 queryExamRpotImgIndxListFHospital, §2.7 and §2.8 queryImgCaheFIndex.

Other institutions find a person's exams stored here (§2.6), list an exam's instances (§2.7) and fetch each
one (§2.8). Queries only read: nothing is stored for them but their audit event, and their msgid is not
remembered (a query sent twice is answered twice, with fresh links). Who may ask is `access.admit`'s
decision; every call that reaches a transaction, refused or not, is recorded in the audit.

§2.8's answer (`ImageStream`) is the envelope's JSON up to fileContent, the stored file in base64, and the end of
the JSON. A file of up to WHOLE_BYTES is read and encoded in one go (`ImageStream.whole`: one body, in the same
hop to a worker thread as the transaction); a larger one streams (`ImageStream.chunks`), read and encoded
PIECE_BYTES at a time, so that memory stays bounded whatever the file's size. Every refusal is decided before
the answer is built, and the file is already open then, so a deletion meanwhile cannot cut the answer short.
The read itself is `read_stored`: the one way a stored instance is read for an answer (§2.8, DICOMweb).

A fetch's audit event is recorded before the answer's last bytes are handed to the HTTP server (the whole body,
or the last piece), with the bytes handed over; a stream cut short records how far it got (mie.service.audit
says how an event survives a crash).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pybase64

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.records import (
    LAST_DAY,
    QUERY_IMAGES,
    QUERY_INDEX,
    SAVE_EXAM,
    ImageServices,
    check_images_input,
    check_query_index_input,
)
from mie.contract.validation import Outcome, mask
from mie.service.access import QueryRefused, admit
from mie.service.answers import Answer, MieError, entry, storage_unavailable
from mie.service.audit import Access, AccessEvent, AuditLog, masked_certno
from mie.service.envelope import read_envelope
from mie.service.links import LinkSigner, Page, page_url
from mie.service.messages import with_notes
from mie.store.database import Database
from mie.store.files import FileStore, StorageUnavailable
from mie.store.repository import IndexedExam, ListedInstance

if TYPE_CHECKING:
    from mie.runtime import Runtime

log = logging.getLogger("mie.retrieval")


WHOLE_BYTES = 6 * 1024 * 1024
"""A stored file up to this size is answered as one body, read and encoded at once (base64 and answer together
hold about 2.4 times it in memory for the moment of the send); a larger one streams in pieces."""
PIECE_BYTES = 3 * 1024 * 1024
"""What a stream reads and encodes at a time: a multiple of 3 bytes, so each piece encodes to whole base64 quanta
and the pieces simply concatenate; large enough that a hop to a worker thread per piece costs nothing that counts."""


@dataclass(frozen=True)
class Retrieval:
    """What the retrieval transactions use of a running processor."""

    contract: Contract
    database: Database
    store: FileStore
    links: LinkSigner
    audit: AuditLog
    public_url: str  # where other institutions reach this processor (--public-url)
    require_key: bool  # strict mode (--require-query-key)

    @classmethod
    def of(cls, runtime: Runtime) -> Retrieval:
        settings = runtime.settings
        return cls(
            runtime.contract,
            runtime.database,
            runtime.store,
            runtime.links,
            runtime.audit,
            settings.effective_public_url,
            settings.require_query_key,
        )


# --- audit ---------------------------------------------------------------------------------------------------------


def _refusal_detail(refusal: MieError) -> str:
    if isinstance(refusal, QueryRefused):
        return refusal.reason
    fields = ", ".join(dict.fromkeys(error.code for error in refusal.errors))
    return entry(refusal.code).name + (f": {fields}" if fields else "")


def _audited(retrieval: Retrieval, event: AccessEvent, work: Callable[[], Answer | ImageStream]) -> Answer | ImageStream:
    """Run a transaction and record its event; a stream records its own when it ends."""
    try:
        result = work()
    except MieError as refusal:
        event.outcome, event.detail = "refused", _refusal_detail(refusal)
        retrieval.audit.record(event)
        raise
    if isinstance(result, Answer):
        retrieval.audit.record(event)
    return result


def _claimed_institution(body: Any) -> str:
    """The sender a body names, for the audit of a message too broken to have an envelope."""
    if isinstance(body, dict):
        for name in ("fixmedinsCode", "infCode"):
            if isinstance(body.get(name), str):
                return body[name][:30]
    return ""


def _success(data: Any, notes: list[str]) -> Answer:
    code = ResponseCode.success
    return Answer(
        http_status=entry(code).http_status,
        body={"code": code.value, "type": "success", "message": with_notes(entry(code).name, notes), "data": data},
    )


# --- §2.6 queryExamRpotImgIndxListFHospital ---------------------------------------------------------------------------


def query_index(retrieval: Retrieval, body: Any, source_address: str | None, checked: Outcome | None = None) -> Answer:
    """§2.6: the person's exam records stored here, as ResDTO, the most recent first. `checked`: the outcome of
    `check_envelope` on this body, when the HTTP layer has checked it (not done twice)."""
    event = AccessEvent(Access.query_index, _claimed_institution(body), source_address)

    def work() -> Answer:
        contract = retrieval.contract
        envelope = read_envelope(contract, contract.transaction(QUERY_INDEX), body, checked)
        event.institution_code = envelope.institution_code
        outcome = check_query_index_input(contract, envelope.input)
        value: dict[str, Any] = outcome.value if isinstance(outcome.value, dict) else {}
        if isinstance(value.get("psnCertType"), str) and isinstance(value.get("certno"), str):
            event.psn_cert_type, event.certno = value["psnCertType"], value["certno"]
        begin, end = value.get("begntime") or "", value.get("endtime") or LAST_DAY
        with retrieval.database.reading() as repository:
            caller = admit(repository, envelope, source_address, retrieval.require_key)
            if outcome.errors:
                raise MieError(ResponseCode.envelope_invalid, errors=outcome.errors)
            fields = _record_fields_answered(contract)
            exams = repository.exams_of_person(value["psnCertType"], value["certno"].upper(), begin, end, fields)
        name = (value.get("psnName") or "").strip()
        if name:  # a cross-check: an exam of someone by another name is not this person's
            exams = [exam for exam in exams if str(exam.record.get("psnName", "")).strip() == name]
        data = [_res_dto(retrieval, exam, caller.institution_code) for exam in exams]
        event.items = len(data)
        return _success(data, [*envelope.notes, *outcome.notes])

    result = _audited(retrieval, event, work)
    assert isinstance(result, Answer)
    return result


def _record_fields_answered(contract: Contract) -> tuple[str, ...]:
    """The fields of a §2.1 record that a ResDTO repeats: what §2.6 reads of each record."""

    def build() -> tuple[str, ...]:
        record = contract.transaction(SAVE_EXAM).body_schema["properties"]["input"]["items"]["properties"]
        return tuple(name for name in contract.component("ResDTO")["properties"] if name in record)

    return contract.memo("res-dto-record-fields", build)


def _res_dto(retrieval: Retrieval, exam: IndexedExam, institution_code: str) -> dict[str, Any]:
    """One ResDTO: the record's own fields, certno masked, and links bound to this exam and the querying institution."""
    record, public_url = exam.record, retrieval.public_url
    report, image = retrieval.links.issue_pages((Page.report, Page.image), exam.hi_img_indx, institution_code)

    return {
        "hiImgIndx": exam.hi_img_indx,
        "psnName": record["psnName"],
        "psnCertType": record["psnCertType"],
        "certno": masked_certno(record["certno"]),
        "fixmedinsCode": record["fixmedinsCode"],
        # optional in §2.1, never empty in ResDTO: the name the institution was registered with stands in
        "fixmedinsName": record.get("fixmedinsName") or exam.institution_name or "",
        "examDate": record["examDate"],
        "examPart": record["examPart"],
        "examRpotLinkUrl": page_url(public_url, Page.report, report),
        "imgInfoLinkUrl": page_url(public_url, Page.image, image),
        "imgDldLink": f"{public_url}{ImageServices.of(retrieval.contract).download_path}",
    }


# --- §2.7 queryImgCaheFileSn and §2.8 queryImgCahe --------------------------------------------------------------------


class StoredFileChanged(OSError):
    """A stored file that ends before its row's size: it was changed behind mie's back."""


def read_stored(file: BinaryIO, size: int, piece_bytes: int) -> Iterator[bytes]:
    """The `size` bytes of an open stored file, in pieces of `piece_bytes` (the last may be shorter), each a
    multiple of 3 bytes but the last; StoredFileChanged if the file ends early."""
    sent = 0
    while sent < size:
        piece = file.read(min(piece_bytes, size - sent))
        if not piece:
            raise StoredFileChanged(f"stored file ended after {sent} of {size} bytes")
        while len(piece) % 3 and sent + len(piece) < size:  # a short read: complete the quanta
            more = file.read(3 - len(piece) % 3)
            if not more:
                break
            piece += more
        sent += len(piece)
        yield piece


@dataclass
class ImageStream:
    """§2.8's answer, to be sent as it is read: `prefix`, the file in base64, `suffix` (see the module doc)."""

    prefix: bytes
    file: BinaryIO
    size: int
    suffix: bytes
    on_end: Callable[[int], None]  # told how many bytes of the file were handed over: before the last, or when dropped
    _ended: bool = False

    @property
    def content_length(self) -> int:
        return len(self.prefix) + 4 * ((self.size + 2) // 3) + len(self.suffix)

    @property
    def fits_whole(self) -> bool:
        return self.size <= WHOLE_BYTES

    def _end(self, sent: int) -> None:
        if not self._ended:
            self._ended = True
            self.on_end(sent)

    def whole(self) -> bytes:
        """The whole answer at once: the file read in one call and encoded in one (for files that fit)."""
        try:
            data = b"".join(read_stored(self.file, self.size, self.size or 1))
            body = b"".join((self.prefix, pybase64.b64encode(data), self.suffix))
            self._end(self.size)
            return body
        finally:
            self.file.close()
            self._end(0)

    def chunks(self, piece_bytes: int = PIECE_BYTES) -> Iterator[bytes]:
        """The answer in pieces of `piece_bytes` of the file (in base64, a third more); the prefix rides with the
        first and the suffix with the last. Closing the generator early records how much went out."""
        sent, head = 0, self.prefix
        try:
            for piece in read_stored(self.file, self.size, piece_bytes):
                sent += len(piece)
                last = sent >= self.size
                if last:
                    self._end(sent)
                yield head + pybase64.b64encode(piece) + (self.suffix if last else b"")
                head = b""
            if head:  # an empty file
                self._end(0)
                yield head + self.suffix
        finally:
            self.file.close()
            self._end(sent)

    def close(self) -> None:
        """Let go of an answer that will not be sent (the client left before it began)."""
        self.file.close()
        self._end(0)


def query_images(
    retrieval: Retrieval, body: Any, source_address: str | None, checked: Outcome | None = None
) -> Answer | ImageStream:
    """§2.7 (serviceName queryImgCaheFileSn) or §2.8 (queryImgCahe) on the one URL. `checked`: the outcome of
    `check_envelope` on this body, when the HTTP layer has checked it (not done twice)."""
    contract, services = retrieval.contract, ImageServices.of(retrieval.contract)
    service = body.get("input", {}).get("serviceName") if isinstance(body, dict) and isinstance(body.get("input"), dict) else None
    action = Access.fetch_image if service == services.fetch_service else Access.list_images
    event = AccessEvent(action, _claimed_institution(body), source_address)

    def work() -> Answer | ImageStream:
        envelope = read_envelope(contract, contract.transaction(QUERY_IMAGES), body, checked)
        event.institution_code = envelope.institution_code
        outcome = check_images_input(contract, envelope.input)
        value: dict[str, Any] = outcome.value if isinstance(outcome.value, dict) else {}
        index_text = value.get("hiImgIndx")
        if isinstance(index_text, str) and not any(error.code == "hiImgIndx" for error in outcome.errors):
            event.hi_img_indx = index_text
            person = contract.index.parse(index_text)
            event.psn_cert_type, event.certno = person.psn_cert_type, person.certno
        with retrieval.database.reading() as repository:
            admit(repository, envelope, source_address, retrieval.require_key)
            if outcome.errors:
                raise MieError(ResponseCode.envelope_invalid, errors=outcome.errors)
            assert isinstance(index_text, str)
            exam = repository.exam_ref(contract.index.canonical(index_text))  # in either spelling of the index
            if exam is None:
                raise MieError(ResponseCode.exam_not_found, f"索引 {mask(index_text)} 不在本前置机 (未上传或已删除)")
            if service == services.list_service:
                instances = repository.instances_of_exam(exam.hi_img_indx)
            else:
                wanted = value["imgFileSn"]
                stored = repository.instance_file(wanted["instUuid"])
                if (
                    stored is None
                    or stored.hi_img_indx != exam.hi_img_indx
                    or stored.study_uid != wanted["examUuid"]
                    or stored.series_uid != wanted["snUuid"]
                ):
                    detail = f"实例 {wanted['instUuid']} 不是该索引存储的实例, 或检查/序列 UID 不符"
                    raise MieError(ResponseCode.instance_not_found, detail)
        if service == services.list_service:
            listed = [_file_sn(instance) for instance in in_series_order(instances)]
            event.items = len(listed)
            return _success(_img_cahe_result(index_text, img_file_sn_list=listed), [*envelope.notes, *outcome.notes])
        return _image_stream(retrieval, event, index_text, stored.path, stored.size, [*envelope.notes, *outcome.notes])

    return _audited(retrieval, event, work)


def in_series_order(instances: list[ListedInstance]) -> list[ListedInstance]:
    """§2.7's order. `instances` comes in arrival order (ties by SOP Instance UID); each study, then each series,
    is kept together: studies in the order their first instance arrived; in a study, series by Series Number,
    then series without one in the order their first instance arrived; in a series, instances by Instance
    Number, then those without one in arrival order. Equal numbers keep arrival order. Rows stored before
    revision 0003_instance_order have no numbers (mie/store/migrations/versions/0003_instance_order.py)."""
    studies: dict[str, dict[str, list[ListedInstance]]] = {}
    for instance in instances:
        studies.setdefault(instance.study_uid, {}).setdefault(instance.series_uid, []).append(instance)
    ordered: list[ListedInstance] = []
    for series in studies.values():
        # sorted() is stable: among equal keys the arrival order stays
        for members in sorted(series.values(), key=_series_key):
            ordered.extend(sorted(members, key=lambda instance: _number_key(instance.instance_number)))
    return ordered


def _series_key(members: list[ListedInstance]) -> tuple[bool, int]:
    numbers = [instance.series_number for instance in members if instance.series_number is not None]
    return _number_key(min(numbers) if numbers else None)


def _number_key(number: int | None) -> tuple[bool, int]:
    """Numbered first, ascending; None after."""
    return (number is None, number or 0)


def _file_sn(instance: ListedInstance) -> dict[str, str]:
    return {"examUuid": instance.study_uid, "snUuid": instance.series_uid, "instUuid": instance.sop_instance_uid}


def _img_cahe_result(index_text: str, img_file_sn_list: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """ImgCaheResult in the order of the document's examples (areaCode and imgDldLink are always null here)."""
    return {"areaCode": None, "imgDldLink": None, "hiImgIndx": index_text, "imgFileSnList": img_file_sn_list, "fileContent": None}


def _image_stream(
    retrieval: Retrieval, event: AccessEvent, index_text: str, relative: str, size: int, notes: list[str]
) -> ImageStream:
    try:
        stored = retrieval.store.open_stored(Path(relative))
    except FileNotFoundError:  # deleted between the row's read and now
        raise MieError(ResponseCode.instance_not_found, "实例已被删除") from None
    except StorageUnavailable as error:
        raise storage_unavailable(error) from None
    actual = stored.size
    if actual != size:
        stored.close()
        log.error("stored instance %s is %d bytes, its row says %d", relative, actual, size)
        raise MieError(ResponseCode.internal_error, "存储的文件与记录不符")
    # The envelope up to fileContent, which comes last (as in the document's example), then its closing.
    body = _success(_img_cahe_result(index_text), notes).body
    del body["data"]["fileContent"]
    head = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert head.endswith(b"}}")
    prefix, suffix = head[:-2] + b',"fileContent":"', b'"}}'

    def on_end(sent: int) -> None:
        event.items, event.bytes_sent = (1 if sent == size else 0), sent
        if sent != size:
            event.detail = f"interrupted after {sent} of {size} bytes"
        try:
            retrieval.audit.record(event)
        except Exception:  # the answer has gone out; a failed audit write must not look like a failed fetch
            log.exception("audit of a fetch could not be written")

    return ImageStream(prefix, stored, size, suffix, on_end)
