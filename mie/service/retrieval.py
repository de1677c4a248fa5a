"""Retrieval (调阅): §2.6 queryExamRpotImgIndxListFHospital, §2.7 and §2.8 queryImgCaheFIndex.

Other institutions find a person's exams stored here (§2.6), list an exam's instances (§2.7) and fetch each
one (§2.8). Queries only read: nothing is stored for them but their audit event, and their msgid is not
remembered (a query sent twice is answered twice, with fresh links). Who may ask is `access.admit`'s
decision; every call that reaches a transaction, refused or not, is recorded in the audit.

§2.8's answer is a stream (`ImageStream`): the envelope's JSON up to fileContent, then the stored file read
and base64-encoded piece by piece, then the end of the JSON. Every refusal is decided before it is built, and
the file is already open then, so a deletion meanwhile cannot cut the answer short.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.validation import FieldError, Outcome, mask
from mie.service.access import QueryRefused, admit
from mie.service.answers import Answer, MieError, entry, storage_unavailable
from mie.service.audit import Access, AccessEvent, AuditLog, masked_certno
from mie.service.envelope import Envelope, read_envelope
from mie.service.links import LinkSigner, Page, page_url
from mie.service.messages import with_notes
from mie.store.database import Database
from mie.store.files import FileStore, StorageUnavailable
from mie.store.repository import IndexedExam, ListedInstance

if TYPE_CHECKING:
    from mie.runtime import Runtime

log = logging.getLogger("mie.retrieval")

QUERY_INDEX = "queryExamRpotImgIndxListFHospital"
QUERY_IMAGES = "queryImgCaheFIndex"




@dataclass(frozen=True)
class ImageServices:
    """The two services of §2.7/§2.8's one URL, as a contract's discriminator maps serviceName to input tables."""

    input_schemas: dict[str, str]  # serviceName -> the schema of its input
    list_service: str  # §2.7: queryImgCaheFileSn
    fetch_service: str  # §2.8: queryImgCahe
    download_path: str  # the URL of both, which §2.6's imgDldLink names

    @classmethod
    def of(cls, contract: Contract) -> ImageServices:
        def build() -> ImageServices:
            envelope = contract.document["components"]["schemas"]["QueryImgCaheFIndexRequest"]
            mapping = envelope["properties"]["input"]["discriminator"]["mapping"]
            schemas = {service: reference.rsplit("/", 1)[-1] for service, reference in mapping.items()}
            service_of = {schema: service for service, schema in schemas.items()}
            return cls(
                schemas,
                service_of["QueryImgCaheFileSnInput"],
                service_of["QueryImgCaheInput"],
                contract.transaction(QUERY_IMAGES).path,
            )

        return contract.memo("image-services", build)

# Read in multiples of 3 bytes: each piece then encodes to whole base64 quanta and the pieces simply concatenate.
READ_CHUNK = 3 * 256 * 1024
_LAST_DAY = "9999-12-31"  # the open end of a date range: examDate compares as text


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


def _input_error(contract: Contract, schema_name: str, code: str, rule: str, detail: str) -> FieldError:
    schema = contract.component(schema_name)["properties"][code]
    return FieldError(f"input.{code}", code, schema["title"], f"#{schema['x-seq']}", rule, detail)


# --- §2.6 queryExamRpotImgIndxListFHospital ---------------------------------------------------------------------------


def query_index(retrieval: Retrieval, body: Any, source_address: str | None) -> Answer:
    """§2.6: the person's exam records stored here, as ResDTO, the most recent first."""
    event = AccessEvent(Access.query_index, _claimed_institution(body), source_address)

    def work() -> Answer:
        contract = retrieval.contract
        envelope = read_envelope(contract, contract.transaction(QUERY_INDEX), body)
        event.institution_code = envelope.institution_code
        outcome = contract.validator("QueryExamRpotImgIndxListInput").validate(envelope.input, "input")
        value: dict[str, Any] = outcome.value if isinstance(outcome.value, dict) else {}
        if isinstance(value.get("psnCertType"), str) and isinstance(value.get("certno"), str):
            event.psn_cert_type, event.certno = value["psnCertType"], value["certno"]
        begin, end = value.get("begntime") or "", value.get("endtime") or _LAST_DAY
        if not outcome.errors and begin > end:
            detail = f"检查开始时间 {begin} 晚于检查结束时间 {end}"
            outcome.errors.append(_input_error(contract, "QueryExamRpotImgIndxListInput", "begntime", "range", detail))
        with retrieval.database.reading() as repository:
            caller = admit(repository, envelope, source_address, retrieval.require_key)
            if outcome.errors:
                raise MieError(ResponseCode.envelope_invalid, errors=outcome.errors)
            exams = repository.exams_of_person(value["psnCertType"], value["certno"].upper(), begin, end)
        name = (value.get("psnName") or "").strip()
        if name:  # a cross-check: an exam of someone by another name is not this person's
            exams = [exam for exam in exams if str(exam.record.get("psnName", "")).strip() == name]
        data = [_res_dto(retrieval, exam, caller.institution_code) for exam in exams]
        event.items = len(data)
        return _success(data, [*envelope.notes, *outcome.notes])

    result = _audited(retrieval, event, work)
    assert isinstance(result, Answer)
    return result


def _res_dto(retrieval: Retrieval, exam: IndexedExam, institution_code: str) -> dict[str, Any]:
    """One ResDTO: the record's own fields, certno masked, and links bound to this exam and the querying institution."""
    record, public_url = exam.record, retrieval.public_url

    def link(page: Page) -> str:
        return page_url(public_url, page, retrieval.links.issue(page, exam.hi_img_indx, institution_code))

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
        "examRpotLinkUrl": link(Page.report),
        "imgInfoLinkUrl": link(Page.image),
        "imgDldLink": f"{public_url}{ImageServices.of(retrieval.contract).download_path}",
    }


# --- §2.7 queryImgCaheFileSn and §2.8 queryImgCahe --------------------------------------------------------------------


@dataclass
class ImageStream:
    """§2.8's answer, to be sent as it is read: `prefix`, the file in base64, `suffix` (see the module doc)."""

    prefix: bytes
    file: BinaryIO
    size: int
    suffix: bytes
    on_end: Callable[[int], None]  # told how many bytes of the file were sent, once the stream ends or is dropped

    @property
    def content_length(self) -> int:
        return len(self.prefix) + 4 * ((self.size + 2) // 3) + len(self.suffix)

    def chunks(self) -> Iterator[bytes]:
        """The answer in pieces of about 1 MiB; the prefix rides with the first and the suffix with the last
        (each piece is a hop to a worker thread and back: a small instance is one)."""
        sent, head = 0, self.prefix
        try:
            while sent < self.size:
                piece = self.file.read(min(READ_CHUNK, self.size - sent))
                if not piece:
                    raise OSError(f"stored file ended after {sent} of {self.size} bytes")
                while len(piece) % 3 and sent + len(piece) < self.size:  # a short read: complete the quanta
                    more = self.file.read(3 - len(piece) % 3)
                    if not more:
                        break
                    piece += more
                sent += len(piece)
                encoded = base64.b64encode(piece)
                yield head + encoded + (self.suffix if sent >= self.size else b"")
                head = b""
            if head:  # an empty file
                yield head + self.suffix
        finally:
            self.file.close()
            self.on_end(sent)


def query_images(retrieval: Retrieval, body: Any, source_address: str | None) -> Answer | ImageStream:
    """§2.7 (serviceName queryImgCaheFileSn) or §2.8 (queryImgCahe) on the one URL."""
    contract, services = retrieval.contract, ImageServices.of(retrieval.contract)
    service = body.get("input", {}).get("serviceName") if isinstance(body, dict) and isinstance(body.get("input"), dict) else None
    action = Access.fetch_image if service == services.fetch_service else Access.list_images
    event = AccessEvent(action, _claimed_institution(body), source_address)

    def work() -> Answer | ImageStream:
        envelope = read_envelope(contract, contract.transaction(QUERY_IMAGES), body)
        event.institution_code = envelope.institution_code
        outcome = _images_input(contract, services, envelope)
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
            if repository.exam_owner(index_text) is None:
                raise MieError(ResponseCode.exam_not_found, f"索引 {mask(index_text)} 不在本前置机 (未上传或已删除)")
            if service == services.list_service:
                instances = repository.instances_of_exam(index_text)
            else:
                wanted = value["imgFileSn"]
                stored = repository.instance_file(wanted["instUuid"])
                if (
                    stored is None
                    or stored.hi_img_indx != index_text
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


def _images_input(contract: Contract, services: ImageServices, envelope: Envelope) -> Outcome:
    """The input of §2.7 or §2.8, validated by the table its serviceName names."""
    raw = envelope.input
    service = raw.get("serviceName") if isinstance(raw, dict) else None
    schema_name = services.input_schemas.get(service) if isinstance(service, str) else None
    if schema_name is None:
        outcome = Outcome(value=raw, strict=contract.strict)
        listing, fetching = services.list_service, services.fetch_service
        detail = "必填项缺失" if service is None else f"'{service}' 应为 {listing} (§2.7) 或 {fetching} (§2.8)"
        rule = "required" if service is None else "enum"
        outcome.errors.append(_input_error(contract, services.input_schemas[listing], "serviceName", rule, detail))
        return outcome
    return contract.validator(schema_name).validate(raw, "input")


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
