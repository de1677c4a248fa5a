"""`mie validate`: check requests offline exactly as the processor would, in the spec's terms.

Every transaction of the spec is covered. A JSON transaction (§2.1, §2.3, §2.5, §2.6, §2.7/§2.8) is given as its
request body; a multipart one (§2.2, §2.4) as a JSON *capture* of its request headers and form fields, which
may name the uploaded file beside it:

    {"headers": {"infno": "saveImgFile", "msgid": "...", ...}, "form": {"hiImgIndx": "...", ...}, "file": "ct1.dcm"}

or as the raw HTTP request captured on the wire (any file starting with `POST `), JSON or multipart with its file.

The transaction is read from `infno` (or an alias the spec records in `x-aliases`) or given by the caller.
Each finding has a severity as in the HL7 FHIR validator: error (the processor refuses it), warning (saved, and
named in the answer: `x-relax` / `x-advise` in the spec, decided per rule in spec/ERRATA.md) and information
(also what the processor says in its answer, such as fields it ignores).
"""

from __future__ import annotations

import errno
import glob
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mie.contract import Contract, Transaction, current
from mie.contract.body import (
    MAX_DEPTH,
    MAX_FIELD_BYTES,
    MAX_PARTS,
    BodyRefused,
    declared_charset,
    decode_body,
    deeper_than,
    parse_json,
)
from mie.contract.records import DELETE_EXAM, check_record
from mie.contract.spec import resolve_refs
from mie.contract.validation import ERROR, INFORMATION, SEVERITY_NAMES, WARNING, FieldError, Outcome, Validator, advisory_note

try:
    import orjson  # parses a batch's files about three times faster than json (see _parse_fast)
except ImportError:  # a venv installed before it was a dependency: json alone, the same findings, slower
    orjson = None  # type: ignore[assignment]

CAPTURE_KEYS = frozenset({"headers", "form"})
_RANK = {ERROR: 0, WARNING: 1, INFORMATION: 2}


class UnreadableInput(Exception):
    """An input that names nothing readable (a missing file, an empty glob, an I/O error): exit code 2."""


_OS_REASONS = {errno.ENOENT: "文件不存在", errno.EACCES: "无权读取", errno.EISDIR: "是目录, 不是文件"}


def unreadable_reason(error: OSError) -> str:
    return _OS_REASONS.get(error.errno or 0, error.strerror or str(error))


@dataclass(frozen=True)
class Finding:
    severity: str
    where: str  # JSON path in the input: $.input[0].setlInfoList[1].examPart
    message: str  # in Chinese, naming the field by code, Chinese name and 序号 as FieldError prints it
    rule: str = ""
    code: str = ""
    title: str = ""
    seq: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "where": self.where,
            "code": self.code,
            "title": self.title,
            "seq": self.seq,
            "rule": self.rule,
            "message": self.message,
        }


@dataclass
class Report:
    """What validating one input gave."""

    source: str
    transaction: str | None = None
    section: str = ""
    findings: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    @property
    def valid(self) -> bool:
        return self.count(ERROR) == 0

    def summary(self) -> str:
        name = f"{self.transaction} (§{self.section})" if self.transaction else "交易未知"
        if not self.findings:
            return f"{name}: 符合规范"
        severities = [severity for severity in (ERROR, WARNING, INFORMATION) if self.count(severity)]
        counts = ", ".join(f"{self.count(severity)} 个{SEVERITY_NAMES[severity]}" for severity in severities)
        return f"{name}: {'符合规范' if self.valid else '不符合规范'} ({counts})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "transaction": self.transaction,
            "section": self.section,
            "valid": self.valid,
            "summary": self.summary(),
            "findings": [finding.as_dict() for finding in self.findings],
        }


# --- the spec's transactions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    transaction: Transaction
    names: frozenset[str]  # infno values it takes: x-infno, x-infno-aliases, the enum of its infno field


def _infno_schema(contract: Contract, transaction: Transaction) -> dict[str, Any]:
    if transaction.envelope_in_headers:
        return _header_schema(contract, transaction)["properties"]["infno"]
    return transaction.body_schema["properties"]["infno"]


def _kinds(contract: Contract) -> list[_Kind]:
    def build() -> list[_Kind]:
        kinds = []
        for candidate in contract.transactions:
            operation = contract.resolved["paths"][candidate.path]["post"]
            infno = _infno_schema(contract, candidate)
            names = {candidate.infno, *operation.get("x-infno-aliases", ()), *infno.get("enum", ())}
            kinds.append(_Kind(candidate, frozenset(names)))
        return kinds

    return contract.memo("toolkit-kinds", build)


def find_transaction(contract: Contract, name: str, multipart: bool | None = None) -> Transaction | None:
    """The transaction an infno (an alias, or a section number such as 2.3) names; a multipart capture or a
    JSON body narrows it (saveImgFile is §2.2's infno and an alias §2.3 accepts)."""
    kinds = [k for k in _kinds(contract) if multipart is None or k.transaction.envelope_in_headers == multipart]
    for kind in kinds:
        if name == kind.transaction.infno:
            return kind.transaction
    for kind in kinds:
        if name in kind.names or name.lstrip("§") in kind.transaction.section.split("/"):
            return kind.transaction
    return None


def _infno_names(contract: Contract, transaction: Transaction) -> list[str]:
    return ["infno", *_infno_schema(contract, transaction).get("x-aliases", ())]


def _header_schema(contract: Contract, transaction: Transaction) -> dict[str, Any]:
    """The envelope a multipart transaction carries in request headers, as one object schema (as the processor
    reads it: every header required once aliases are folded)."""

    def build() -> dict[str, Any]:
        operation = contract.operation(transaction)
        parameters = resolve_refs(operation.get("parameters", []), contract.document)
        properties = {p["name"]: p["schema"] for p in parameters if p["in"] == "header"}
        return {"type": "object", "required": list(properties), "properties": properties}

    return contract.memo(f"toolkit-headers:{transaction.path}", build)


def _validator(contract: Contract, schema: Mapping[str, Any]) -> Validator:
    """The validator of a schema of `contract` (which holds it, so its id stays its own)."""
    return contract.memo(f"toolkit-validator:{id(schema)}", lambda: contract.validator_of(schema))


# --- findings ---------------------------------------------------------------------------------------------------


def _join(base: str, path: str) -> str:
    if not path or path == "$":
        return base
    if path.startswith("$"):
        path = path[1:].lstrip(".")
    return f"{base}{path}" if path.startswith("[") else f"{base}.{path}"


def _from_error(base: str, error: FieldError) -> Finding:
    return Finding(error.severity, _join(base, error.path), str(error), error.rule, error.code, error.title, error.seq)


def _from_outcome(base: str, outcome: Outcome) -> list[Finding]:
    if not outcome.errors and not outcome.advisories:  # most records of a batch: at most a note
        return [Finding(INFORMATION, base, note, "note") for note in outcome.notes] if outcome.notes else []
    findings = [_from_error(base, error) for error in outcome.errors]
    findings += [_from_error(base, advisory) for advisory in outcome.advisories]
    said = {advisory_note(advisory) for advisory in outcome.advisories}
    findings += [Finding(INFORMATION, base, note, "note") for note in outcome.notes if note not in said]
    return findings


# --- one input --------------------------------------------------------------------------------------------------


def _check_record(contract: Contract, transaction: Transaction, value: Any, where: str) -> list[Finding]:
    """One record (or the one input object of §2.6-§2.8) by the processor's own check (mie.contract.records)."""
    findings = _from_outcome(where, check_record(contract, transaction, value))
    if transaction.infno == DELETE_EXAM and not isinstance(value, dict):  # a bare value (§2.5's index as the
        # document's example sends it) is the field itself
        field_path = _join(where, "hiImgIndx")
        findings = [replace(finding, where=where) if finding.where == field_path else finding for finding in findings]
    return findings


def _check_json(contract: Contract, transaction: Transaction, body: Any) -> list[Finding]:
    schema = transaction.body_schema
    outcome = _validator(contract, schema).validate(body)
    findings = _from_outcome("$", outcome)
    value = outcome.value
    if outcome.errors or not isinstance(value, dict):
        return findings  # the processor refuses the whole message: its records are not looked at
    records = value.get("input")
    if isinstance(records, list):
        for position, record in enumerate(records):
            findings += _check_record(contract, transaction, record, f"$.input[{position}]")
    else:
        findings += _check_record(contract, transaction, records, "$.input")
    return findings


def _file_field(form_schema: Mapping[str, Any]) -> str | None:
    for name, prop in form_schema.get("properties", {}).items():
        if prop.get("format") == "binary":
            return name
    return None


def _file_media(contract: Contract, transaction: Transaction, file_field: str) -> str | None:
    content = contract.operation(transaction)["requestBody"]["content"][transaction.content_type]
    return content.get("encoding", {}).get(file_field, {}).get("contentType")


def _check_capture(contract: Contract, transaction: Transaction, capture: dict[str, Any], base_dir: Path | None) -> list[Finding]:
    findings: list[Finding] = []
    headers, form = capture.get("headers"), capture.get("form")
    if not isinstance(headers, dict) or not isinstance(form, dict):
        return [Finding(ERROR, "$", "抓取文件应为 {\"headers\": {...}, \"form\": {...}, \"file\": \"文件名\"}", "capture")]
    header_schema = _header_schema(contract, transaction)
    names = {name.lower(): name for name in header_schema["properties"]}
    for prop in header_schema["properties"].values():
        names.update({alias.lower(): alias for alias in prop.get("x-aliases", ())})
    present = {names.get(key.lower(), key): value for key, value in headers.items() if key.lower() in names}
    outcome = _validator(contract, header_schema).validate(present)
    findings += _from_outcome("$.headers", outcome)
    form_schema = transaction.body_schema
    file_field = _file_field(form_schema)
    fields = dict(form)
    file_name = capture.get("file")
    if file_field and file_name is not None:
        fields[file_field] = "<file>"  # the file itself is checked below, not as text
    form_outcome = _validator(contract, form_schema).validate(fields)
    findings += _from_outcome("$.form", form_outcome)
    if file_field and isinstance(file_name, str):
        summary = capture.get("file_summary")
        if not isinstance(summary, FileSummary):
            data = capture.get("file_bytes")
            if isinstance(data, bytes):
                summary = FileSummary.of(data)
            else:  # a file beside the capture, read piece by piece (a study's file may be large)
                path = Path(file_name) if base_dir is None else base_dir / file_name
                try:
                    summary = summarize_file(path)
                except OSError as error:
                    raise UnreadableInput(f"其 file 所指的文件 {path} 无法读取 ({unreadable_reason(error)})") from None
        findings += _check_file(contract, transaction, form_schema, file_field, form_outcome.value, Path(file_name).name, summary)
    return findings


def _field_finding(form_schema: Mapping[str, Any], code: str, rule: str, detail: str) -> Finding:
    """A finding about a form field, named as FieldError names it: code(Chinese name,#序号)."""
    prop = form_schema["properties"][code]
    error = FieldError(code, code, str(prop.get("title", code)), f"#{prop.get('x-seq', '')}", rule, detail)
    return _from_error("$.form", error)


_TAIL_BYTES = 2048  # a PDF ends with %%EOF within its last bytes (trailing whitespace or a newline may follow)


@dataclass(frozen=True)
class FileSummary:
    """What the file checks read of an uploaded file: its MD5, its first bytes and its last ones. Offline the head
    is the whole file; `mie proxy` builds it on the way through (`FileDigest`), never holding a large upload, and
    gives it in the capture as `file_summary` instead of the file's bytes."""

    md5: str
    head: bytes
    tail: bytes
    complete: bool  # head is the whole file: a DICOM header read from it lacks nothing

    @classmethod
    def of(cls, data: bytes) -> FileSummary:
        md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - the interface's own integrity check, not security
        return cls(md5, data, data[-_TAIL_BYTES:], True)


class FileDigest:
    """A FileSummary fed chunk by chunk: the MD5 of everything, at most `head_bytes` kept from the start."""

    def __init__(self, head_bytes: int) -> None:
        self._md5 = hashlib.md5()  # noqa: S324 - as above
        self._head = bytearray()
        self._tail = b""
        self._head_bytes = head_bytes
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.size += len(chunk)
        if len(self._head) < self._head_bytes:
            self._head += chunk[: self._head_bytes - len(self._head)]
        self._tail = (self._tail + chunk)[-_TAIL_BYTES:]

    def summary(self) -> FileSummary:
        return FileSummary(self._md5.hexdigest(), bytes(self._head), self._tail, self.size <= self._head_bytes)


# Of a DICOM file, the head read for StudyInstanceUID and AccessionNumber (its header, never its pixels).
FILE_HEAD_BYTES = 1024 * 1024


def summarize_file(path: Path, head_bytes: int = FILE_HEAD_BYTES) -> FileSummary:
    """A file's FileSummary, read a MiB at a time: never the whole file in memory."""
    digest = FileDigest(head_bytes)
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.summary()


# --- a multipart upload, read as the processor reads it -------------------------------------------------------------


class UploadReader:
    """The text fields of a multipart/form-data body and a FileDigest of each file part, fed chunk by chunk (as
    `mie proxy` sees an upload pass, and `mie validate` reads a captured one), with the processor's limits
    (mie.contract.body: MAX_PARTS, MAX_FIELD_BYTES) and choices (of a field or file sent twice, the first)."""

    def __init__(self, content_type: str) -> None:
        self.fields: dict[str, str] = {}
        self.files: dict[str, tuple[str, FileDigest]] = {}
        self.problem: str | None = None
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        self._parser: MultipartParser | None = None
        if not boundary:
            self.problem = "multipart/form-data 请求缺少 boundary"
            return
        self._parts = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._text = bytearray()
        self._digest: FileDigest | None = None
        callbacks = {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add("_header_name", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }
        self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise _FormRefused(f"表单超过 {MAX_PARTS} 个部分")
        self._headers, self._name, self._digest = {}, None, None
        self._text = bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        self._name = name.decode("utf-8", errors="replace") if name is not None else None
        filename = params.get(b"filename")
        if self._name is not None and filename is not None:
            self._digest = FileDigest(FILE_HEAD_BYTES)
            self.files.setdefault(self._name, (filename.decode("utf-8", errors="replace"), self._digest))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._digest is not None:
            self._digest.update(data[start:end])
        else:
            if len(self._text) + end - start > MAX_FIELD_BYTES:
                raise _FormRefused(f"表单字段超过 {MAX_FIELD_BYTES // 1024} KiB")
            self._text += data[start:end]

    def _part_end(self) -> None:
        if self._name is not None and self._digest is None:
            _, params = parse_options_header(self._headers.get(b"content-type", b""))
            charset = params.get(b"charset", b"utf-8").decode("latin-1")
            try:
                text = bytes(self._text).decode(charset, errors="replace")
            except LookupError:
                text = bytes(self._text).decode("utf-8", errors="replace")
            self.fields.setdefault(self._name, text)

    def feed(self, chunk: bytes) -> None:
        if self._parser is None or self.problem:
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError as error:
            self.problem = f"请求体不是有效的 multipart/form-data: {error}"
        except _FormRefused as refusal:
            self.problem = str(refusal)

    def finish(self) -> None:
        if self._parser is None or self.problem:
            return
        try:
            self._parser.finalize()
        except MultipartParseError as error:
            self.problem = f"请求体不是有效的 multipart/form-data: {error}"

    def capture(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The upload as a capture for `validate_document`: its headers, its form, what was read of its file."""
        capture: dict[str, Any] = {"headers": dict(headers), "form": dict(self.fields)}
        if self.files:
            field_name, (file_name, digest) = next(iter(self.files.items()))
            capture.update(file=file_name or field_name, file_summary=digest.summary())
        return capture


class _FormRefused(Exception):
    """A limit of the processor's form reading, broken while parsing."""


def _check_file(
    contract: Contract,
    transaction: Transaction, form_schema: Mapping[str, Any], file_field: str, form: Any, name: str, file: FileSummary
) -> list[Finding]:
    """What the processor checks of the file itself: its MD5 against fileMd5, and its type."""
    findings: list[Finding] = []
    sent = form.get("fileMd5") if isinstance(form, dict) else None
    if isinstance(sent, str) and sent.lower() != file.md5:
        findings.append(_field_finding(form_schema, "fileMd5", "md5", f"与文件 {name} 的 MD5 {file.md5} 不一致"))
    media = _file_media(contract, transaction, file_field)
    if media == "application/dicom":
        if file.head[128:132] != b"DICM":
            detail = f"{name} 不是 DICOM 文件 (PS3.10: 第 128 字节起应为 DICM)"
            findings.append(_field_finding(form_schema, file_field, "fileType", detail))
        else:
            findings += _dicom_against_form(file, form, form_schema, file_field, name)
    if media == "application/pdf" and not (file.head[:5] == b"%PDF-" and b"%%EOF" in file.tail):
        findings.append(_field_finding(form_schema, file_field, "fileType", f"{name} 不是 PDF 文件"))
    return findings


def _dicom_against_form(
    file: FileSummary, form: Any, form_schema: Mapping[str, Any], file_field: str, name: str
) -> list[Finding]:
    """The processor refuses an instance of another study, or whose AccessionNumber the form does not list."""
    from io import BytesIO

    import pydicom

    try:
        dataset = pydicom.dcmread(
            BytesIO(file.head), stop_before_pixels=True, specific_tags=["StudyInstanceUID", "AccessionNumber"]
        )
    except Exception as error:  # noqa: BLE001 - any failure to read a whole file is the finding
        if not file.complete:
            return []  # only the file's head was kept: the header may run past it, which says nothing of the file
        return [_field_finding(form_schema, file_field, "fileType", f"{name} 无法解析: {error}")]
    findings = []
    if isinstance(form, dict):
        study = str(dataset.get("StudyInstanceUID", ""))
        # From a head only, an element not read is not an element missing: it is compared only when read.
        if form.get("studyUid") and study != form["studyUid"] and (file.complete or "StudyInstanceUID" in dataset):
            detail = f"与文件 {name} 的 StudyInstanceUID {study} 不一致"
            findings.append(_field_finding(form_schema, "studyUid", "fileMismatch", detail))
        accession = str(dataset.get("AccessionNumber", ""))
        listed = [part.strip() for part in str(form.get("accessionNumber", "")).split(",")]
        if form.get("accessionNumber") and accession not in listed and (file.complete or "AccessionNumber" in dataset):
            detail = f"不含文件 {name} 的 AccessionNumber '{accession}'"
            findings.append(_field_finding(form_schema, "accessionNumber", "fileMismatch", detail))
    return findings


def _named_infno(contract: Contract, body: dict[str, Any], multipart: bool) -> Any:
    source = body.get("headers") if multipart else body
    if not isinstance(source, dict):
        return None
    lowered = {str(key).lower(): value for key, value in source.items()} if multipart else source
    for kind in _kinds(contract):
        if kind.transaction.envelope_in_headers != multipart:
            continue
        for name in _infno_names(contract, kind.transaction):
            value = lowered.get(name.lower() if multipart else name)
            if value is not None:
                return value
    return None


def validate_document(
    body: Any, infno: str | None = None, source: str = "-", base_dir: Path | None = None, contract: Contract | None = None
) -> Report:
    """Validate one parsed request body (or multipart capture) against `contract` (default: the bundled one)."""
    contract = contract or current()
    multipart = isinstance(body, dict) and CAPTURE_KEYS <= body.keys()
    named = infno if infno is not None else (_named_infno(contract, body, multipart) if isinstance(body, dict) else None)
    transaction = None
    if isinstance(named, str):  # a transaction of the input's shape first; another one is told what to give
        transaction = find_transaction(contract, named, multipart) or find_transaction(contract, named)
    if transaction is None:
        where = "$.headers.infno" if multipart else "$.infno"
        detail = "缺少交易编号 infno" if named is None else f"未知的交易编号 {named!r}"
        return Report(source, findings=[Finding(ERROR, where, f"{detail}; 用 --transaction 指定", "transaction", "infno")])
    report = Report(source, transaction.infno, transaction.section)
    if transaction.envelope_in_headers and not multipart:
        detail = f"{transaction.infno} 是 multipart 交易: 应给出 {{\"headers\": ..., \"form\": ..., \"file\": ...}}"
        report.findings.append(Finding(ERROR, "$", detail, "capture"))
        return report
    if multipart and not transaction.envelope_in_headers:
        report.findings.append(Finding(ERROR, "$", f"{transaction.infno} 是 JSON 交易: 应给出请求报文本身", "capture"))
        return report
    if multipart:
        try:
            findings = _check_capture(contract, transaction, body, base_dir)
        except UnreadableInput as error:  # the file beside a capture: named with the capture that names it
            raise UnreadableInput(f"{source}: {error}") from None
    else:
        findings = _check_json(contract, transaction, body)
    report.findings = sorted(findings, key=lambda finding: _RANK[finding.severity])  # errors first, else in order
    return report


def validate_text(
    text: str, infno: str | None = None, source: str = "-", base_dir: Path | None = None, contract: Contract | None = None
) -> Report:
    """Validate a request body's text, read as strictly as the processor reads it (ERRATA E-JSON-STRICT)."""
    if not text.strip():
        return _unreadable(source, "请求体为空")
    try:
        body = parse_json(text)
    except BodyRefused as refusal:
        return _unreadable(source, f"不是有效的 JSON: {refusal.detail}")
    return validate_document(body, infno, source, base_dir, contract)


def _unreadable(source: str, message: str) -> Report:
    return Report(source, findings=[Finding(ERROR, "$", message, "json")])


def _decoded(raw: bytes, charset: str | None, source: str) -> str | Report:
    """A body's text as the processor decodes it (byte-order mark, declared charset, else UTF-8), or the report
    of one that cannot be."""
    if not raw.strip():
        return ""
    try:
        text, _ = decode_body(raw, charset)
    except BodyRefused as refusal:
        return _unreadable(source, refusal.detail)
    return text


_UNPARSED = object()
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x78 for byte in range(256))  # each digit 0, anything else x
_LONG_DIGITS = b"0" * 19  # an integer of 19 digits or more may lie beyond 64 bits
_BEFORE_NUMBER = b":[,"  # what precedes a number in JSON, spaces and its minus sign apart
_BOM = b"\xef\xbb\xbf"
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")
_ESCAPE_START = b"\\u003"


def _parse_fast(raw: bytes) -> Any:
    """The JSON document in `raw` as json.loads gives it, parsed by orjson; or _UNPARSED, and json.loads parses
    (and names what is wrong, in the words `mie validate` has always used).

    orjson refuses what json.loads refuses, and what json.loads takes only as an extension (NaN, Infinity,
    lone surrogates, numbers beyond a double); it checks UTF-8 as strictly as Python's codec. It parses the
    rest to the same values but one: an integer beyond 64 bits becomes a float. So a document holding a
    number of 19 digits or more goes to json.loads (a long digit run inside a string does not)."""
    if orjson is None:
        return _UNPARSED
    if raw.startswith(_BOM):  # as the utf-8-sig codec drops it
        raw = raw[3:]
    digits = raw.translate(_DIGITS)
    start = digits.find(_LONG_DIGITS)
    while start != -1:
        before = start - 1
        if before >= 0 and raw[before] == 0x2D:  # "-"
            before -= 1
        while before >= 0 and raw[before] in b" \t\r\n":
            before -= 1
        if before < 0 or raw[before] in _BEFORE_NUMBER:
            return _UNPARSED
        end = digits.find(b"x", start)
        start = -1 if end == -1 else digits.find(_LONG_DIGITS, end)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _UNPARSED
    # orjson takes the last value of a key given twice, and nesting up to 1,024 levels; the processor refuses
    # both (ERRATA E-JSON-STRICT), so such a document goes to the strict parse. orjson writes each key's colon and
    # every colon inside a string as one ":" (never escaped): a key given twice leaves the source with more. A
    # colon written as an escape counts only once decoded: such a source goes to the strict parse too. Nesting first:
    # orjson.dumps stops at 255 levels (TypeError), which orjson.loads takes.
    if deeper_than(body, MAX_DEPTH) or raw.count(b":") != orjson.dumps(body).count(b":"):
        return _UNPARSED
    if _ESCAPE_START in raw and _ESCAPED_COLON.search(raw):  # a plain search first, a third of the regex's cost
        return _UNPARSED
    return body


def validate_file(path: Path, infno: str | None = None, contract: Contract | None = None) -> Report:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UnreadableInput(f"{path}: 无法读取 ({unreadable_reason(error)})") from None
    if raw.startswith(b"POST "):
        return validate_raw_request(raw, infno, str(path), contract)
    body = _parse_fast(raw)
    if body is not _UNPARSED:
        return validate_document(body, infno, str(path), path.parent, contract)
    text = _decoded(raw, None, str(path))
    if isinstance(text, Report):
        return text
    return validate_text(text, infno, str(path), path.parent, contract)


def validate_raw_request(raw: bytes, infno: str | None = None, source: str = "-", contract: Contract | None = None) -> Report:
    """A raw HTTP request as captured on the wire (request line, headers, body): a JSON transaction's body, or
    §2.2/§2.4's multipart form with its file; the transaction from its infno header, or else its URL."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    target = lines[0].split()[1] if len(lines[0].split()) > 1 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    lowered = {name.lower(): value for name, value in headers.items()}
    route = target.split("?", 1)[0]
    if "://" in route:
        route = "/" + route.split("://", 1)[1].partition("/")[2]
    if infno is None and not lowered.get("infno") and not lowered.get("info"):
        for kind in _kinds(contract or current()):
            if route.rstrip("/").endswith("/" + kind.transaction.path.rsplit("/", 1)[-1]):
                infno = kind.transaction.infno
    content_type = lowered.get("content-type", "")
    if not content_type.startswith("multipart/"):
        text = _decoded(body, declared_charset(content_type), source)
        if isinstance(text, Report):
            return text
        return validate_text(text, infno, source, contract=contract)
    reader = UploadReader(content_type)
    reader.feed(body)
    reader.finish()
    report = validate_document(reader.capture(headers), infno, source, contract=contract)
    if reader.problem:  # the processor refuses the body before it reads the form
        report.findings = [Finding(ERROR, "$", reader.problem, "multipart")]
    return report


def expand_inputs(patterns: Iterable[str]) -> list[Path]:
    """Files, directories (every *.json under them) and globs, in the order given, each once."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            if not matches:
                raise UnreadableInput(f"{pattern}: 没有匹配的文件")
            for match in matches:
                found.update(dict.fromkeys(_files_under(match)))
            continue
        path = Path(pattern)
        if not path.exists():
            raise UnreadableInput(f"{pattern}: 文件或目录不存在")
        found.update(dict.fromkeys(_files_under(path)))
    return list(found)


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*.json") if p.is_file())
    else:
        yield path


# --- reports ----------------------------------------------------------------------------------------------------


def render_text(reports: list[Report], quiet_valid: bool = False, quiet: bool = False) -> str:
    """One line per input and one per finding; `quiet_valid` leaves out inputs with information alone, `quiet`
    (`-q`) every information line (the totals still count them)."""
    lines: list[str] = []
    for report in reports:
        if quiet_valid and not (report.count(ERROR) or report.count(WARNING)):
            continue  # information alone is not worth a line in a large batch
        lines.append(f"{report.source}: {report.summary()}")
        for finding in report.findings:
            if quiet and finding.severity == INFORMATION:
                continue
            lines.append(f"  [{SEVERITY_NAMES[finding.severity]}] {finding.where}: {finding.message}")
    lines.append(totals(reports))
    return "\n".join(lines)


def totals(reports: list[Report]) -> str:
    bad = sum(1 for report in reports if not report.valid)
    counts = {s: sum(report.count(s) for report in reports) for s in (ERROR, WARNING, INFORMATION)}
    return (
        f"共 {len(reports)} 个文件: {len(reports) - bad} 个符合规范, {bad} 个不符合"
        f" ({counts[ERROR]} 个错误, {counts[WARNING]} 个警告, {counts[INFORMATION]} 个提示)"
    )


def render_json(reports: list[Report]) -> dict[str, Any]:
    return {
        "valid": all(report.valid for report in reports),
        "files": len(reports),
        "invalid": sum(1 for report in reports if not report.valid),
        "errors": sum(report.count(ERROR) for report in reports),
        "warnings": sum(report.count(WARNING) for report in reports),
        "information": sum(report.count(INFORMATION) for report in reports),
        "reports": [report.as_dict() for report in reports],
    }


def render_junit(reports: list[Report]) -> bytes:
    """JUnit XML: one test case per input, a failure per input with errors; warnings and information in its output."""
    suite = ElementTree.Element(
        "testsuite",
        name="mie validate",
        tests=str(len(reports)),
        failures=str(sum(1 for report in reports if not report.valid)),
        errors="0",
        skipped="0",
    )
    for report in reports:
        case = ElementTree.SubElement(
            suite, "testcase", classname=f"mie.validate.{report.transaction or 'unknown'}", name=report.source
        )
        errors = [f for f in report.findings if f.severity == ERROR]
        if errors:
            failure = ElementTree.SubElement(case, "failure", message=f"{errors[0].where}: {errors[0].message}", type="error")
            failure.text = "\n".join(f"{f.where}: {f.message}" for f in errors)
        others = [f for f in report.findings if f.severity != ERROR]
        if others:
            output = ElementTree.SubElement(case, "system-out")
            output.text = "\n".join(f"[{SEVERITY_NAMES[f.severity]}] {f.where}: {f.message}" for f in others)
    suites = ElementTree.Element("testsuites", name="mie validate")
    suites.append(suite)
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)
