"""A typed Python client of the interface: the eight transactions of chapter 2, built on the generated models.

What a hospital's or a vendor's Python program needs to talk to a front-end processor, and what mie's own
conformance runner, benchmarks and tests use to build and send messages:

- `Messages` builds requests, no network: each a model of generated/ (`SaveExamRpotImgInfoRequest`, ...,
  validated as it is made) with an envelope that can pass: the transaction's infno, a fresh msgid of the spec's
  format (institution code, yyyyMMddHHmmss, a 4-digit serial), the current infTime, the institution's code and
  its key (left out of §2.6-§2.8 when there is none: ERRATA E-QUERY-KEY). `wire()` gives the JSON the spec
  spells (its field names, no absent optional field).
  A record or message the spec refuses raises `InvalidMessage` before anything is sent, naming each field by
  code, Chinese name and 序号 as the server would.
- `MieClient` sends them to a base URL and parses the answers into the generated response models
  (`RecordResultsResponse` with each record's `RecordResult`, `FileUploadResult`, `IndexListResponse`,
  `ImgCaheResponse`); an answer outside HTTP 2xx raises `Refused`, carrying the `ErrorResponse`.
  §2.2/§2.4 send the envelope in request headers and the file as a multipart part read from disk piece by
  piece; §2.8 decodes the base64 file, into memory or, with `into=`, streamed into a file as it arrives.

It depends on generated/ and mie.contract only (the routes are read from the spec), never on mie's server
side: a vendor gets the same client the project tests itself with.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

import generated.models
from generated.models import (
    DeleteExamRpotImgIdxInfoRequest,
    ErrorResponse,
    ExamRpotImgInfo,
    FileSnDTO,
    FileUploadResult,
    ImgCaheResponse,
    ImgInfo,
    IndexListResponse,
    Infno,
    Infno1,
    Infno2,
    Infno3,
    Infno4,
    QueryExamRpotImgIndxListFHospitalRequest,
    QueryExamRpotImgIndxListInput,
    QueryImgCaheFileSnInput,
    QueryImgCaheFIndexRequest,
    QueryImgCaheInput,
    RecordResultsResponse,
    SaveExamRpotImgInfoRequest,
    SaveImgFileForm,
    SaveImgInfoRequest,
    SaveRptFileForm,
)
from mie.contract import current
from mie.contract.validation import merge_all_of

_M = TypeVar("_M", bound=BaseModel)
FileSource = str | os.PathLike[str] | bytes | IO[bytes]

# The multipart transactions' infno: no generated model carries them (their envelope is in request headers, which
# the generator does not model); `route()` fails on a name the spec does not have.
SAVE_IMG_FILE = "saveImgFile"
SAVE_RPT_FILE = "saveRptFile"
# The file parts' media types, as the spec's multipart `encoding` gives them (tests/test_client.py checks).
DICOM_MEDIA_TYPE = "application/dicom"
PDF_MEDIA_TYPE = "application/pdf"
_CHUNK = 1 << 16


def _readable_enums() -> None:
    """The generated enumerations print as their codes ('1', 0), not as `<SuccFlag.field_1_1: '1'>`: a program
    that prints an answer (`print(client.save_exams(...))`) shows its reader the spec's values. The member names
    are the generator's, made from the codes, and say nothing the code does not."""
    for value in vars(generated.models).values():
        if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == generated.models.__name__:
            value.__repr__ = _code_repr  # type: ignore[method-assign]


def _code_repr(member: Enum) -> str:
    return repr(member.value)


_readable_enums()


def route(infno: str) -> str:
    """The URL path of a transaction, as the spec's paths give it."""
    return current().transaction(infno).path


# --- the envelope ----------------------------------------------------------------------------------------


class MsgidSequence:
    """Fresh msgids: 交易机构编号(12) + yyyyMMddHHmmss + 顺序号(4), the spec's pattern.

    Unique within a process: the 4-digit serial goes round, and when 10,000 msgids would fall in one second the
    time part moves on to the next second instead of repeating one. It starts at a random serial so that a
    program started again within the same second does not resend its first msgids (the server would answer a
    replay with the first answer, or refuse a changed body). Several processes sending for one institution at
    once give each its own residue: `MsgidSequence(start=i, step=n)` for process i of n (n dividing 10,000)."""

    def __init__(self, start: int | None = None, step: int = 1, clock: Callable[[], datetime] = datetime.now) -> None:
        if step < 1 or 10_000 % step:
            raise ValueError("step must divide 10000: a residue of its own for each process, never crossing another")
        self._serial = random.randrange(10_000) if start is None else start % 10_000
        self._step = step
        self._per_second = 10_000 // step  # distinct serials before the round repeats one
        self._clock = clock
        self._lock = threading.Lock()
        self._second: datetime | None = None  # the time part of the msgid given last
        self._used = 0  # msgids given with that time part

    def next(self, institution_code: str) -> str:
        with self._lock:
            second = self._clock().replace(microsecond=0)
            if self._second is not None and second <= self._second:
                second = self._second  # this second is still in use (or the clock went back)
                self._used += 1
                if self._used > self._per_second:
                    second += timedelta(seconds=1)
                    self._used = 1
            else:
                self._used = 1
            self._second = second
            serial = self._serial
            self._serial = (serial + self._step) % 10_000
        return f"{msgid_prefix(institution_code)}{second:%Y%m%d%H%M%S}{serial:04d}"


def msgid_prefix(institution_code: str) -> str:
    """The institution part of a msgid: exactly 12 of [0-9A-Z], as the spec's pattern has it. A code of another
    length or alphabet (the document's own §2.6 example has a 10-character one) is upper-cased, other characters
    made 0, cut or padded with 0 to 12; the server knows the sender from infCode / fixmedinsCode, not from here."""
    return re.sub(r"[^0-9A-Z]", "0", institution_code.upper())[:12].ljust(12, "0")


def inf_time(moment: datetime) -> str:
    """infTime: yyyy-MM-dd HH:mm:ss."""
    return f"{moment:%Y-%m-%d %H:%M:%S}"


_process_msgids = MsgidSequence()


@dataclass(frozen=True)
class UploadForm:
    """A §2.2 or §2.4 request: the envelope's headers, the form's text fields, and the file part."""

    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    file_field: str
    file_name: str
    media_type: str
    file: FileSource


class Messages:
    """Builds the requests of one institution: models of generated/, validated as they are made. A record given as
    a dict is read by its model: a field the spec does not define is not sent (the document's §2.1 example carries
    two, hospitalCode and patientId)."""

    def __init__(
        self,
        institution: str,
        key: str | None = None,
        *,
        msgids: MsgidSequence | None = None,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.institution = institution
        self.key = key
        self.msgids = msgids or _process_msgids
        self.clock = clock

    def envelope(self, infno: str, *, code_field: str = "infCode", key_required: bool = True) -> dict[str, str]:
        """infno, a fresh msgid, the current infTime, the institution (under infCode, or fixmedinsCode on the
        queries) and the key (required on §2.1-§2.5; on §2.6-§2.8 only when the client has one)."""
        if key_required and not self.key:
            raise ValueError(f"{infno} needs the institution's key")
        envelope = {"infno": infno, "msgid": self.msgids.next(self.institution), "infTime": inf_time(self.clock())}
        envelope[code_field] = self.institution
        if self.key:
            envelope["key"] = self.key
        return envelope

    # §2.1
    def save_exams(self, records: Iterable[ExamRpotImgInfo | Mapping[str, Any]]) -> SaveExamRpotImgInfoRequest:
        items = [_as(ExamRpotImgInfo, record, f"input[{number}]") for number, record in enumerate(records)]
        return _as(SaveExamRpotImgInfoRequest, {**self.envelope(Infno.save_exam_rpot_img_info), "input": items})

    # §2.3
    def register_images(self, items: Iterable[ImgInfo | Mapping[str, Any]]) -> SaveImgInfoRequest:
        checked = [_as(ImgInfo, item, f"input[{number}]") for number, item in enumerate(items)]
        return _as(SaveImgInfoRequest, {**self.envelope(Infno1.save_img_info), "input": checked})

    # §2.5
    def delete_exams(self, indexes: Iterable[str]) -> DeleteExamRpotImgIdxInfoRequest:
        """The document's form: a list of index strings."""
        envelope = self.envelope(Infno2.delete_exam_rpot_img_idx_info)
        return _as(DeleteExamRpotImgIdxInfoRequest, {**envelope, "input": list(indexes)})

    # §2.6
    def query_index(self, person: QueryExamRpotImgIndxListInput | Mapping[str, Any]) -> QueryExamRpotImgIndxListFHospitalRequest:
        envelope = self.envelope(Infno3.query_exam_rpot_img_indx_list_f_hospital, code_field="fixmedinsCode", key_required=False)
        checked = _as(QueryExamRpotImgIndxListInput, person, "input")
        return _as(QueryExamRpotImgIndxListFHospitalRequest, {**envelope, "input": checked})

    # §2.7
    def list_images(self, hi_img_indx: str) -> QueryImgCaheFIndexRequest:
        service = _as(QueryImgCaheFileSnInput, {"hiImgIndx": hi_img_indx, "serviceName": "queryImgCaheFileSn"}, "input")
        return self._img_cahe(service)

    # §2.8
    def fetch_image(self, hi_img_indx: str, file_sn: FileSnDTO | Mapping[str, Any]) -> QueryImgCaheFIndexRequest:
        sn = _as(FileSnDTO, file_sn, "input.imgFileSn")
        service = _as(QueryImgCaheInput, {"hiImgIndx": hi_img_indx, "imgFileSn": sn, "serviceName": "queryImgCahe"}, "input")
        return self._img_cahe(service)

    def _img_cahe(self, service: QueryImgCaheFileSnInput | QueryImgCaheInput) -> QueryImgCaheFIndexRequest:
        envelope = self.envelope(Infno4.query_img_cahe_f_index, code_field="fixmedinsCode", key_required=False)
        return _as(QueryImgCaheFIndexRequest, {**envelope, "input": service})

    # §2.2
    def upload_image(
        self,
        file: FileSource,
        *,
        hi_img_indx: str,
        study_uid: str,
        accession_number: str,
        image_total_num: int | str,
        file_md5: str | None = None,
    ) -> UploadForm:
        """The envelope in headers, the form's text fields validated by SaveImgFileForm; the file's MD5 is
        computed (reading it once, piece by piece) unless given."""
        fields = {
            "hiImgIndx": hi_img_indx,
            "studyUid": study_uid,
            "accessionNumber": accession_number,
            "imageTotalNum": str(image_total_num),
            "fileMd5": file_md5 or file_md5_of(file),
        }
        return self._upload(SAVE_IMG_FILE, _ImageFormFields, fields, "dicom", file, DICOM_MEDIA_TYPE, "image.dcm")

    # §2.4
    def upload_report(
        self, file: FileSource, *, hi_img_indx: str, study_uid: str, rpot_no: str, file_md5: str | None = None
    ) -> UploadForm:
        fields = {"hiImgIndx": hi_img_indx, "studyUid": study_uid, "rpotNo": rpot_no, "fileMd5": file_md5 or file_md5_of(file)}
        return self._upload(SAVE_RPT_FILE, _ReportFormFields, fields, "examRpotPdf1", file, PDF_MEDIA_TYPE, "report.pdf")

    def _upload(
        self,
        infno: str,
        form: type[BaseModel],
        fields: dict[str, str],
        file_field: str,
        file: FileSource,
        media_type: str,
        default_name: str,
    ) -> UploadForm:
        text = wire(_as(form, fields))
        named = os.fsdecode(file) if isinstance(file, str | os.PathLike) else getattr(file, "name", default_name)
        return UploadForm(
            path=route(infno),
            headers=self.envelope(infno),
            fields={field: str(value) for field, value in text.items()},
            file_field=file_field,
            file_name=Path(str(named)).name,
            media_type=media_type,
            file=file,
        )


class _ImageFormFields(SaveImgFileForm):
    """SaveImgFileForm's text fields: the file is streamed as its own part, never held in the model."""

    dicom: bytes | None = None  # type: ignore[assignment]


class _ReportFormFields(SaveRptFileForm):
    exam_rpot_pdf1: Annotated[bytes | None, Field(alias="examRpotPdf1")] = None  # type: ignore[assignment]


class InvalidMessage(ValueError):
    """A message or record the spec refuses, found before anything is sent. `problems` names each broken field
    by code, Chinese name and 序号 (`input[0].examDate(检查日期,#12): ...`), as the server's answer would."""

    def __init__(self, what: str, problems: list[str]) -> None:
        super().__init__(f"{what} 不符合接口规范, 未发送: " + "; ".join(problems))
        self.problems = problems


def _as(model: type[_M], value: _M | Mapping[str, Any], path: str = "") -> _M:
    """`value` as `model`; InvalidMessage, in the spec's terms, when the spec refuses it."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise InvalidMessage(_component(model), _problems(model, value, error, path)) from None


def _component(model: type[BaseModel]) -> str:
    """The spec's schema a model was generated from (a subclass here, such as _ImageFormFields, is its base's)."""
    schemas = current().resolved["components"]["schemas"]
    return next((cls.__name__ for cls in model.__mro__ if cls.__name__ in schemas), model.__name__)


def _problems(model: type[BaseModel], value: Any, error: ValidationError, path: str) -> list[str]:
    """The broken fields as mie's own validator names them (what the server would answer); where it finds nothing
    pydantic found, pydantic's findings, named from the spec by their place."""
    contract = current()
    schema = contract.component(_component(model))
    if isinstance(value, Mapping):
        plain = {name: wire(item) if isinstance(item, BaseModel) else item for name, item in value.items()}
        outcome = contract.validator_of(schema).validate(plain, path)
        if outcome.errors:
            return [str(finding) for finding in outcome.errors]
    return [_named(schema, problem, path) for problem in error.errors()]


_PYDANTIC_SAYS = {
    "missing": "必填项缺失",
    "string_too_long": "超过最大长度 {max_length}",
    "string_too_short": "长度不足 {min_length}",
    "string_pattern_mismatch": "不符合格式",
    "enum": "不在取值范围 {expected} 中",
    "literal_error": "不在取值范围 {expected} 中",
    "string_type": "应为字符串",
    "list_type": "应为数组",
    "model_type": "应为对象",
    "dict_type": "应为对象",
}


def _named(schema: Mapping[str, Any], problem: Any, path: str) -> str:
    """One pydantic finding as `path(Chinese name,#序号): what`, the names read from the spec by its place."""
    node: Mapping[str, Any] = merge_all_of(schema)
    where = path
    for part in problem["loc"]:
        if isinstance(part, int):
            node = merge_all_of(node.get("items") or {})
            where += f"[{part}]"
            continue
        node = merge_all_of((node.get("properties") or {}).get(part) or {})
        where = f"{where}.{part}" if where else str(part)
    said = _PYDANTIC_SAYS.get(problem["type"], "取值不符合规范 ({type})")
    detail = said.format(type=problem["type"], **{k: v for k, v in (problem.get("ctx") or {}).items() if k != "type"})
    title, seq = node.get("title"), node.get("x-seq")
    named = f"{where}({title},#{seq})" if title and seq is not None else where
    return f"{named}: {detail}"


def wire(model: BaseModel) -> dict[str, Any]:
    """A request model as the spec's JSON: its field names (aliases), enumerations as their codes, and no optional
    field that was left out (None)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def file_md5_of(file: FileSource) -> str:
    """The MD5 of a file (upper-case hex, as the document's examples write it), read piece by piece; a file
    object is read from where it stands and put back there."""
    digest = hashlib.md5(usedforsecurity=False)
    if isinstance(file, bytes):
        digest.update(file)
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as stream:
            for piece in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(piece)
    else:
        position = file.tell()
        for piece in iter(lambda: file.read(_CHUNK), b""):
            digest.update(piece)
        file.seek(position)
    return digest.hexdigest().upper()


# --- sending ---------------------------------------------------------------------------------------------


class Refused(Exception):
    """The server answered outside HTTP 2xx: `answer` is its ErrorResponse (None when the body was not one)."""

    def __init__(self, status_code: int, answer: ErrorResponse | None, text: str) -> None:
        detail = f"code {answer.code.value}: {answer.message}" if answer is not None else text[:300]
        super().__init__(f"HTTP {status_code}, {detail}")
        self.status_code = status_code
        self.answer = answer
        self.text = text


class MieClient:
    """Sends the eight transactions for one institution and returns the answers as generated models.

    `http` may be any httpx.Client (a Starlette TestClient is one: the tests run the client in-process); without
    it the client opens its own to `base_url`. Close it with `close()` or use it as a context manager. An answer
    in HTTP 2xx that its model does not take (a server off the spec) raises pydantic's ValidationError."""

    def __init__(
        self,
        base_url: str = "",
        institution: str = "",
        key: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
        msgids: MsgidSequence | None = None,
    ) -> None:
        if not institution:
            raise ValueError("the institution's code is needed: every message names its sender")
        self.messages = Messages(institution, key, msgids=msgids)
        self._own_http = http is None
        self.http = http if http is not None else httpx.Client(base_url=base_url, timeout=timeout)
        self.base_url = base_url.rstrip("/") if http is not None else ""

    def __enter__(self) -> MieClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # the transactions

    def save_exams(self, records: Iterable[ExamRpotImgInfo | Mapping[str, Any]]) -> RecordResultsResponse:
        """§2.1 saveExamRpotImgInfo: one RecordResult per record in `data`; code 3001/3002 when some/all refused."""
        return self.send(self.messages.save_exams(records), RecordResultsResponse)

    def upload_image(
        self,
        file: FileSource,
        *,
        hi_img_indx: str,
        study_uid: str,
        accession_number: str,
        image_total_num: int | str,
        file_md5: str | None = None,
    ) -> FileUploadResult:
        """§2.2 saveImgFile: one DICOM file (a path, an open binary file or bytes), streamed."""
        form = self.messages.upload_image(
            file,
            hi_img_indx=hi_img_indx,
            study_uid=study_uid,
            accession_number=accession_number,
            image_total_num=image_total_num,
            file_md5=file_md5,
        )
        return self.send_upload(form)

    def register_images(self, items: Iterable[ImgInfo | Mapping[str, Any]]) -> RecordResultsResponse:
        """§2.3 saveImgInfo: the studies whose images come by DICOM C-STORE."""
        return self.send(self.messages.register_images(items), RecordResultsResponse)

    def upload_report(
        self, file: FileSource, *, hi_img_indx: str, study_uid: str, rpot_no: str, file_md5: str | None = None
    ) -> FileUploadResult:
        """§2.4 saveRptFile: one report PDF, streamed."""
        form = self.messages.upload_report(file, hi_img_indx=hi_img_indx, study_uid=study_uid, rpot_no=rpot_no, file_md5=file_md5)
        return self.send_upload(form)

    def delete_exams(self, indexes: Iterable[str]) -> RecordResultsResponse:
        """§2.5 deleteExamRpotImgIdxInfo."""
        return self.send(self.messages.delete_exams(indexes), RecordResultsResponse)

    def query_index(self, person: QueryExamRpotImgIndxListInput | Mapping[str, Any]) -> IndexListResponse:
        """§2.6 queryExamRpotImgIndxListFHospital: the person's exams (ResDTO), certno masked."""
        return self.send(self.messages.query_index(person), IndexListResponse)

    def list_images(self, hi_img_indx: str) -> ImgCaheResponse:
        """§2.7 queryImgCaheFileSn: `data.img_file_sn_list`, one FileSnDTO per stored instance."""
        return self.send(self.messages.list_images(hi_img_indx), ImgCaheResponse)

    def fetch_image(
        self, hi_img_indx: str, file_sn: FileSnDTO | Mapping[str, Any], *, into: IO[bytes] | None = None
    ) -> ImgCaheResponse:
        """§2.8 queryImgCahe: the Part 10 file, decoded from base64 into `data.file_content`; with `into`, decoded
        into that file as the answer arrives instead (never whole in memory) and `data.file_content` left None."""
        message = self.messages.fetch_image(hi_img_indx, file_sn)
        # Decoded as it arrives, strictly (a character outside base64 is an error, not skipped): the answer's
        # base64 text is never held whole, only the file (and not even that with `into`).
        buffer = io.BytesIO() if into is None else into
        with self.http.stream("POST", self._url(route(message.infno.value)), json=wire(message)) as response:
            if not 200 <= response.status_code < 300:
                response.read()
                raise _refused(response)
            envelope, had_file = _decode_file_content(response.iter_bytes(), buffer)
        answer = ImgCaheResponse.model_validate_json(envelope)
        if into is None and had_file and answer.data is not None:
            answer.data.file_content = buffer.getvalue()
        return answer

    # sending built messages (a test or the conformance runner may change one before it goes)

    def send(self, message: BaseModel | Mapping[str, Any], answer: type[_M], *, infno: str | None = None) -> _M:
        """POST a JSON message (a model, or a dict as the wire has it) to its transaction's route; the answer as
        `answer`, or Refused."""
        body = wire(message) if isinstance(message, BaseModel) else dict(message)
        response = self.http.post(self._url(route(infno or str(body["infno"]))), json=body)
        return _parse(response, answer)

    def send_upload(self, form: UploadForm) -> FileUploadResult:
        with ExitStack() as stack:
            file = form.file
            if isinstance(file, str | os.PathLike):
                file = stack.enter_context(open(file, "rb"))  # noqa: SIM115 - closed by the stack after the request
            files = {form.file_field: (form.file_name, file, form.media_type)}
            response = self.http.post(self._url(form.path), headers=form.headers, data=form.fields, files=files)
        return _parse(response, FileUploadResult)

    def _url(self, path: str) -> str:
        return self.base_url + path


def _parse(response: httpx.Response, answer: type[_M]) -> _M:
    if not 200 <= response.status_code < 300:
        raise _refused(response)
    return answer.model_validate_json(response.content)


def _refused(response: httpx.Response) -> Refused:
    try:
        error: ErrorResponse | None = ErrorResponse.model_validate_json(response.content)
    except ValueError:
        error = None
    return Refused(response.status_code, error, response.text)


_FILE_CONTENT = b'"fileContent":"'
_HEAD_LIMIT = 1 << 20  # the envelope before fileContent is a few hundred bytes; past this it is not coming


def _decode_file_content(pieces: Iterator[bytes], into: IO[bytes]) -> tuple[bytes, bool]:
    """Write the base64 of the answer's fileContent, decoded, into `into` as it arrives; returns the answer with
    fileContent null, for the model, and whether there was a file. An answer without one comes back whole."""
    head = b""
    rest = b""
    for piece in pieces:
        head += piece
        found = head.find(_FILE_CONTENT)
        if found >= 0:
            head, rest = head[: found + len(_FILE_CONTENT) - 1], head[found + len(_FILE_CONTENT) :]
            break
        if len(head) > _HEAD_LIMIT:
            raise ValueError("the §2.8 answer has no fileContent within its first megabyte")
    else:
        return head, False
    pending = b""  # base64 characters not yet a multiple of 4
    tail = b""
    stream = _chain(rest, pieces)
    for piece in stream:
        end = piece.find(b'"')
        text, after = (piece, None) if end < 0 else (piece[:end], piece[end + 1 :])
        # JSON may escape the solidus of the base64 alphabet (\/); nothing else belongs in the string
        pending = (pending + text).replace(b"\\/", b"/")
        held = 1 if pending.endswith(b"\\") else 0  # an escape cut between two pieces: its second half is next
        usable = (len(pending) - held) // 4 * 4
        into.write(base64.b64decode(pending[:usable], validate=True))
        pending = pending[usable:]
        if after is not None:
            tail = after + b"".join(stream)
            break
    if pending:
        raise ValueError("the §2.8 fileContent is not whole base64")
    return head + b"null" + tail, True


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
