"""`mie conformance URL`: does a server that claims to implement the spec keep it?

Everything is read from the spec given (`--spec`, the bundled one by default): operations, envelopes, fields
with their code, Chinese name (`title`) and 序号 (`x-seq`), the rules each field breaks, the response code
catalogue. Four phases, each request a schemathesis `Case` so that its checks and its curl line apply:

1. fuzz: schemathesis (used as a library, seeded) generates positive and negative requests per operation;
   the envelope is then made one that can pass (a registered institution, its key, a fresh msgid, the current
   infTime) so that positive cases reach the business logic;
2. fields: every field of the envelope and of a record broken one way at a time (missing, one too long,
   outside its dictionary or enumeration, wrong format, wrong decimal) on a valid base message: it must be
   refused, and a refused record must be named in its own answer by the field's code;
3. replay: the same message twice gets the same answer; a changed body under the same msgid is refused;
4. chain: §2.1 save → §2.6 finds it → §2.3 register → §2.2 upload → §2.7 lists it → §2.8 the same MD5 →
   §2.5 delete → §2.6 no longer finds it. A step the server answers "not implemented" is reported as such;
5. dicom (with `--dicom HOST:PORT`): C-ECHO, then a study saved and registered over HTTP (§2.1, §2.3), one
   instance of it sent by C-STORE, which §2.7 must list and §2.8 return (the same SOP instance and pixels), and
   the exam deleted again (§2.5).

Every answer is checked by schemathesis (no server error, status code, content type, response schema) and by
the interface's own rules: the envelope, and one answer per record, in order, with a succFlag of its enum.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from mie.client import Messages, MsgidSequence, wire
from mie.contract import Contract
from mie.contract.spec import BUNDLED_SPEC_DIR
from mie.contract.validation import merge_all_of
from mie.toolkit.conformance_report import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_NOT_STARTED,
    FieldRef,
    Finding,
    Report,
    Request,
)

__all__ = ["EXIT_CLEAN", "EXIT_FINDINGS", "EXIT_NOT_STARTED", "Finding", "Institution", "NotStarted", "Options", "Report", "run"]

DEFAULT_SPEC = BUNDLED_SPEC_DIR / "openapi.yaml"


class NotStarted(Exception):
    """The run could not start: bad options, an unreadable spec, an unreachable server, a server that is not this
    interface, a key it refuses (exit code 2). The message is one line, in Chinese."""


@dataclass(frozen=True)
class Institution:
    code: str
    key: str


@dataclass
class Options:
    url: str
    institutions: list[Institution]
    spec: Path = DEFAULT_SPEC
    transactions: list[str] | None = None  # infno or the URL's last segment; None: all
    max_examples: int = 20  # generated cases per operation and generation mode
    duration: float | None = None  # seconds of fuzzing in all, instead of a bound on cases
    seed: int = 0
    timeout: float = 30.0
    dicom: str | None = None  # HOST:PORT of the processor's C-STORE SCP: the dicom phase runs only with it
    called_ae: str = "ANY-SCP"  # the SCP's AE title
    calling_ae: str = "MIECONFORMANCE"  # ours, as the server knows the institution's (`mie institution add --ae-title`)


# --- the spec, read once per run ---------------------------------------------------------------------------


@dataclass
class Operation:
    """One POST of the spec, with what the runner needs to build messages for it."""

    path: str
    name: str  # the URL's last segment: the transaction as the server routes it
    infno: str
    section: str
    multipart: bool
    request: dict[str, Any]  # the resolved request-body schema
    example: dict[str, Any] | None
    per_record: bool  # answers one RecordResult per input record
    code_field: str  # infCode or fixmedinsCode: where the institution goes
    header_params: dict[str, dict[str, Any]]  # multipart: envelope headers by name
    st: Any = None  # the schemathesis APIOperation


@dataclass
class Plan:
    """What a run needs of a contract: its operations, the catalogue's codes, the per-record answer's terms."""

    contract: Contract
    operations: list[Operation]
    codes: dict[str, int]  # ResponseCode x-enum-varnames -> code
    http_status: dict[int, int]  # code -> its HTTP status
    succ_flags: list[str]
    index_names: list[str]  # the index of a record's answer under its name and its aliases (RecordResult.hiImgIndx)

    def by_infno(self, infno: str) -> list[Operation]:
        return [operation for operation in self.operations if operation.infno == infno and operation.name == infno] or [
            operation for operation in self.operations if operation.infno == infno
        ]


def load_plan(path: Path) -> Plan:
    """The plan of the contract at `path` (a spec directory or an openapi.yaml, as `mie conformance --spec` takes it)."""
    try:
        contract = Contract.load(path)
    except (OSError, ValueError) as error:
        raise NotStarted(f"无法读取规范 {path}: {getattr(error, 'strerror', None) or error}") from error
    if not isinstance(contract.document, dict) or "paths" not in contract.document:
        raise NotStarted(f"{path} 不是 OpenAPI 文档")
    return plan_of(contract)


def plan_of(contract: Contract) -> Plan:
    resolved = contract.resolved
    operations: list[Operation] = []
    for path_name, item in resolved["paths"].items():
        post = item.get("post") or {}
        if "x-infno" not in post:
            continue
        content_type, media = next(iter(post["requestBody"]["content"].items()))
        request = merged(media["schema"])
        properties = request.get("properties", {})
        ok = post.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        data = merged(ok.get("properties", {}).get("data", {}))
        per_record = merged(data.get("items", {})).get("properties", {}).get("succFlag") is not None
        examples = media.get("examples")
        example = media.get("example") or (next(iter(examples.values()))["value"] if examples else None)
        operations.append(
            Operation(
                path=path_name,
                name=path_name.rstrip("/").rsplit("/", 1)[-1],
                infno=post["x-infno"],
                section=str(post.get("x-section", "")),
                multipart=content_type.startswith("multipart/"),
                request=request,
                example=copy.deepcopy(example) if isinstance(example, dict) else None,
                per_record=per_record,
                code_field="infCode" if "infCode" in properties else "fixmedinsCode",
                header_params={p["name"]: p for p in post.get("parameters", []) if p.get("in") == "header"},
            )
        )
    response_code = resolved["components"]["schemas"]["ResponseCode"]
    codes = dict(zip(response_code.get("x-enum-varnames", []), response_code["enum"], strict=False))
    http_status = dict(zip(response_code["enum"], response_code.get("x-http-status", []), strict=False))
    record_result = resolved["components"]["schemas"].get("RecordResult", {})
    result_fields = record_result.get("properties", {})
    succ_flags = [str(flag) for flag in result_fields.get("succFlag", {}).get("enum", ["-1", "0", "1"])]
    index_names = ["hiImgIndx", *result_fields.get("hiImgIndx", {}).get("x-aliases", [])]
    return Plan(contract, operations, codes, http_status, succ_flags, index_names)


def merged(schema: Any) -> dict[str, Any]:
    """A schema with its allOf parts folded in (the contract's merge_all_of), {} for anything not a schema."""
    return dict(merge_all_of(schema)) if isinstance(schema, dict) else {}


# --- breaking one field one way (the rules of the project's spec-derived tests) ---------------------------

_MISSING = object()


@dataclass(frozen=True)
class Breakage:
    where: tuple[str | int, ...]
    field: FieldRef
    value: Any

    def apply(self, message: dict[str, Any]) -> dict[str, Any]:
        broken = copy.deepcopy(message)
        target: Any = broken
        for part in self.where[:-1]:
            target = target[part]
        if self.value is _MISSING:
            target.pop(self.where[-1], None)
        else:
            target[self.where[-1]] = self.value
        return broken


def _outside(schema: dict[str, Any]) -> str | None:
    """A short value that is not among a field's codes (enum) and does not match its pattern."""
    allowed = {str(value) for value in schema.get("enum", [])}
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    length = max(1, min(int(schema.get("maxLength", 3)), 3))
    for letter in "QXYZ":
        candidate = letter * length
        if candidate not in allowed and not (pattern and pattern.search(candidate)):
            return candidate
    return None


def breakages(schema: dict[str, Any], prefix: tuple[str | int, ...] = (), node: str | None = None) -> Iterator[Breakage]:
    """Every single-rule breakage of every field of an object schema, nested objects and lists included."""
    required = set(schema.get("required") or ())
    for code, raw in (schema.get("properties") or {}).items():
        spec = merged(raw)
        if "x-seq" not in spec:
            continue  # not a field of the document's tables
        seq = f"{node}#{spec['x-seq']}" if node else f"#{spec['x-seq']}"
        where = (*prefix, code)
        dotted = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in where).lstrip(".")

        def make(
            rule: str,
            value: Any,
            where: tuple[str | int, ...] = where,
            dotted: str = dotted,
            spec: dict[str, Any] = spec,
            seq: str = seq,
            code: str = code,
        ) -> Breakage:
            return Breakage(where, FieldRef(dotted, code, str(spec.get("title", code)), seq, rule), value)

        if code in required:
            yield make("required", _MISSING)
        items = merged(spec.get("items"))
        if spec.get("type") == "array" and "properties" in items:
            yield from breakages(items, (*where, 0), items.get("x-node"))
            continue
        if spec.get("type") == "object" and "properties" in spec:
            yield from breakages(spec, where, spec.get("x-node"))
            continue
        if _is_file(spec) or spec.get("type") == "array":
            continue
        if "maxLength" in spec:
            yield make("maxLength", "A" * (int(spec["maxLength"]) + 1))
        if "x-dictionary" in spec or ("enum" in spec and spec.get("type") == "string"):
            outside = _outside(spec)
            if outside is not None:
                yield make("dictionary" if "x-dictionary" in spec else "enum", outside)
        elif "pattern" in spec and "x-format" not in spec and not re.search(spec["pattern"], "*"):
            yield make("pattern", "*")
        if "x-format" in spec:
            yield make("format", "2023/04/02")
            yield make("format", "2023-02-30" if spec["x-format"] == "yyyy-MM-dd" else "2023-02-30 10:00:00")
        if "x-decimal" in spec:
            scale = int(spec["x-decimal"].get("scale", 0))
            yield make("decimal", "1." + "1" * (scale + 1) if scale else "1.5")
            yield make("decimal", "9" * (int(spec["x-decimal"]["precision"]) + 1))


# --- DICOM for the chain ----------------------------------------------------------------------------------


def make_dicom(study_uid: str, accession: str) -> tuple[bytes, str, str]:
    """A small Secondary Capture instance of `study_uid` with `accession`: (Part 10 bytes, series UID, SOP UID)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.AccessionNumber = accession
    ds.PatientID = "CONFORMANCE"
    ds.Modality = "OT"
    ds.InstanceNumber = 1
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(64))
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)


# --- the runner -------------------------------------------------------------------------------------------


class _Stop(Exception):
    """The --duration budget is spent (raised inside hypothesis' loop, caught outside it)."""


class Runner:
    def __init__(self, options: Options, progress: Callable[[str], None] | None = None) -> None:
        if not options.institutions:
            raise NotStarted("至少要给一个 --institution CODE --key KEY: 服务器只接受已登记机构的报文")
        self.options = options
        self.url = options.url.rstrip("/")
        self.progress = progress or (lambda _line: None)
        self.plan = load_plan(options.spec)
        self.report = Report(self.url, str(options.spec), options.seed)
        self.random = random.Random(options.seed)
        self.session = requests.Session()
        self._msgids = MsgidSequence()
        self._deadline: float | None = None
        self._digests: dict[str, Any] = {}
        self.operations = self._selected()
        self.dicom_peer = _dicom_peer(options.dicom) if options.dicom else None

    # options

    def _selected(self) -> list[Operation]:
        wanted = set(self.options.transactions or [])
        known = {name for operation in self.plan.operations for name in (operation.infno, operation.name)}
        unknown = wanted - known
        if unknown:
            raise NotStarted(f"--transactions: 规范中没有 {', '.join(sorted(unknown))} (可用: {', '.join(sorted(known))})")
        selected = [op for op in self.plan.operations if not wanted or op.infno in wanted or op.name in wanted]
        for operation in selected:
            self.report.sections[operation.name] = operation.section
        return selected

    def _is_selected(self, infno: str) -> Operation | None:
        for operation in self.plan.by_infno(infno):
            if operation in self.operations:
                return operation
        return None

    # envelopes

    def messages(self, institution: Institution) -> Messages:
        """mie.client's message builder for `institution`: every msgid of the run from one sequence (the
        institution's code made 12 characters, yyyyMMddHHmmss, a 4-digit serial)."""
        return Messages(institution.code, institution.key, msgids=self._msgids)

    def envelope(self, operation: Operation, institution: Institution) -> dict[str, str]:
        """One that can pass: the operation's infno, a fresh msgid, the current infTime, the institution, its key."""
        return self.messages(institution).envelope(operation.infno, code_field=operation.code_field)

    def with_envelope(
        self, operation: Operation, body: Any, headers: dict[str, Any] | None, institution: Institution
    ) -> tuple[Any, dict[str, Any]]:
        envelope = self.envelope(operation, institution)
        headers = dict(headers or {})
        if operation.multipart:
            for name in operation.header_params:
                headers.pop(name, None)
            headers.update(
                {
                    "infno": envelope["infno"],
                    "msgid": envelope["msgid"],
                    "infTime": envelope["infTime"],
                    "infCode": institution.code,
                    "key": institution.key,
                }
            )
            return body, headers
        if isinstance(body, dict):
            body = {**body, **envelope}
            for alias in ("infCode", "fixmedinsCode"):
                if alias != operation.code_field:
                    body.pop(alias, None)
        return body, headers

    # sending and checking

    def send(
        self,
        operation: Operation,
        test: str,
        body: Any,
        headers: dict[str, Any] | None = None,
        case: Any = None,
        field: FieldRef | None = None,
    ) -> tuple[int, Any, Any]:
        """Send one case and run every check on its answer: (HTTP status, parsed JSON or None, the case)."""
        from schemathesis.core.failures import Failure, FailureGroup

        if case is None:
            media = "multipart/form-data" if operation.multipart else "application/json"
            case = operation.st.Case(body=body, headers=headers or {}, media_type=media)
        else:
            case.body = body
            case.headers = _case_insensitive(headers or {})
        key = (operation.name, test)
        self.report.tests[key] = self.report.tests.get(key, 0) + 1
        self.report.sections[operation.name] = operation.section
        try:
            response = case.call(base_url=self.url, session=self.session, timeout=self.options.timeout)
        except requests.RequestException as error:
            self._find(operation, test, "connection", f"没有应答: {no_answer(error)}", field, None, case)
            return 0, None, case
        checks = _schemathesis_checks()
        if self._not_implemented(operation, response.status_code, _json_or_none(response.content)):
            checks = checks[1:]  # 501 is the spec's own answer for a transaction not implemented yet, not a server error
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._find(operation, test, *_said_by_schemathesis(failure, response), field, response.status_code, case)
        except Failure as failure:
            self._find(operation, test, *_said_by_schemathesis(failure, response), field, response.status_code, case)
        answer = self._check_envelope(operation, test, response, field, case)
        if answer is not None and operation.per_record and isinstance(body, dict):
            self._check_records(operation, test, body, response.status_code, answer, field, case)
        return response.status_code, answer, case

    def _find(
        self, operation: Operation, test: str, check: str, message: str, field: FieldRef | None, status: int | None, case: Any
    ) -> None:
        request = self._request_of(operation, case) if case is not None else None
        self.report.findings.append(Finding(operation.name, operation.section, test, check, message, field, status, request))
        self.progress(f"  发现: {operation.name} {test} {check}: {message[:160]}")

    def _request_of(self, operation: Operation, case: Any) -> Request:
        """What a case sent, as the report shows it again (a file part by its size, not its bytes)."""
        url = self.url + operation.path
        keys = {institution.key for institution in self.options.institutions}
        # Reports end up in CI logs: an institution's key is shown as <KEY>, to be put back to replay a case.
        headers = {str(name): "<KEY>" if str(value) in keys else str(value) for name, value in dict(case.headers or {}).items()}
        body = case.body
        if isinstance(body, dict) and str(body.get("key")) in keys:
            body = {**body, "key": "<KEY>"}
        if not operation.multipart:
            return Request(url, headers, body=body)
        if not isinstance(body, dict):
            return Request(url, headers, body=body if isinstance(body, str | int | float | list) else repr(body))
        form = {name: str(value) for name, value in body.items() if not isinstance(value, bytes)}
        files = [(name, value) for name, value in body.items() if isinstance(value, bytes)]
        file_field, data = files[0] if files else (None, b"")
        return Request(url, headers, form=form, file_field=file_field, file_bytes=len(data))

    def _check_envelope(self, operation: Operation, test: str, response: Any, field: FieldRef | None, case: Any) -> Any:
        """Every answer is a JSON object with a `code` of the catalogue, a `type` and a `message`, and the HTTP status
        the catalogue gives that code. Returns the parsed answer."""
        status = response.status_code

        def find(message: str) -> None:
            self._find(operation, test, "envelope", message, field, status, case)

        try:
            answer = json.loads(response.content)
        except ValueError:
            find(f"应答不是 JSON: {_short(response.content[:120].decode('utf-8', 'replace'), 120)!r}")
            return None
        if not isinstance(answer, dict):
            kind = type(answer).__name__
            find(f"应答不是 {{code, type, message, data}} 对象, 而是{_JSON_TYPES.get(kind, kind)}")
            return None
        # The flat §2.2/§2.4 answer (code, hiImgIndx, message) is the one declared for their 200; every other
        # answer is {code, type, message, data}. Properties beyond the declared ones are left to the schema check.
        required = ("code", "message") if operation.multipart and status == 200 else ("code", "type", "message")
        missing = [name for name in required if name not in answer]
        if missing:
            find(f"应答缺少报文字段 {', '.join(missing)}")
        code = answer.get("code")
        if "code" in answer and (not isinstance(code, int) or isinstance(code, bool) or code not in self.plan.http_status):
            find(f"code {code!r} 不在 ResponseCode 代码表中")
        elif code in self.plan.http_status and self.plan.http_status[code] != status:
            find(f"code {code} 按代码表应配 HTTP {self.plan.http_status[code]}, 实为 HTTP {status}")
        if (
            "type" in answer
            and code is not None
            and answer["type"] != ("success" if code == self.plan.codes.get("success", 0) else "error")
            and code not in (self.plan.codes.get("some_records_refused"), self.plan.codes.get("all_records_refused"))
        ):
            find(f"type {answer['type']!r} 与 code {code} 不符")
        return answer

    def _check_records(
        self,
        operation: Operation,
        test: str,
        body: dict[str, Any],
        status: int,
        answer: dict[str, Any],
        field: FieldRef | None,
        case: Any,
    ) -> None:
        """§2.1/§2.3/§2.5: a message taken in answers each input record, in order, with a succFlag of its enumeration."""
        records = body.get("input")
        if status != 200 or not isinstance(records, list):
            return

        def find(message: str) -> None:
            self._find(operation, test, "per-record", message, field, status, case)

        data = answer.get("data")
        if not isinstance(data, list) or len(data) != len(records):
            find(f"发送 {len(records)} 条记录, data 中应答 {len(data) if isinstance(data, list) else 0} 条")
            return
        flags = []
        for number, (record, result) in enumerate(zip(records, data, strict=True)):
            if not isinstance(result, dict):
                find(f"data[{number}] 不是对象")
                continue
            flag = str(result.get("succFlag"))
            flags.append(flag)
            if flag not in self.plan.succ_flags:
                find(f"data[{number}].succFlag {result.get('succFlag')!r} 不在取值范围 {self.plan.succ_flags} 中")
            sent = record if isinstance(record, str) else (record.get("hiImgIndx") if isinstance(record, dict) else None)
            answered = next((result[name] for name in self.plan.index_names if result.get(name)), None)
            if isinstance(sent, str) and answered is not None and answered != sent and "*" not in str(answered):
                find(f"data[{number}] 应答的索引是 {answered!r}, 第 {number} 条记录发送的是 {sent!r}: 顺序不对")
        success = self.plan.codes.get("success", 0)
        if flags and all(flag == "1" for flag in flags) != (answer.get("code") == success):
            find(f"code {answer.get('code')} 与各条 succFlag {flags} 不符")

    # phases

    def run(self) -> Report:
        started = time.monotonic()
        self.preflight()
        self._load_schemathesis()
        base = self._setup()
        try:
            self.fuzz()
            self.fields(base)
            self.replay()
            self.chain()
            self.dicom()
        finally:
            self._teardown(base)
            self.report.elapsed = time.monotonic() - started
        return self.report

    def preflight(self) -> None:
        """Before anything is generated, one harmless request per institution: a §2.6 query for exams of a day
        long past (or, without §2.6, a §2.7 listing of an index that cannot exist). The answer must be this
        interface's envelope, and the institution's key must not be refused (2001); otherwise NotStarted says
        which, in one line."""
        queries = ("queryExamRpotImgIndxListFHospital", "queryImgCaheFIndex")
        probes = [operation for infno in queries for operation in self.plan.by_infno(infno)[:1]]
        if not probes:
            return  # a spec without the queries: nothing harmless to ask
        refused_key = self.plan.codes.get("unauthorized", 2001)
        timeout = min(self.options.timeout, 10)
        for institution in self.options.institutions:
            for operation in probes:
                body = self._harmless(operation, institution)
                try:
                    response = self.session.post(self.url + operation.path, json=body, timeout=timeout)
                except requests.RequestException as error:
                    raise NotStarted(f"{self.url} 没有应答: {no_answer(error)}") from None
                answer = _json_or_none(response.content)
                if not _is_envelope(answer) or answer["code"] not in self.plan.http_status:
                    kind = response.headers.get("content-type", "?").split(";")[0]
                    raise NotStarted(
                        f"{self.url} 不像本接口的服务: {operation.path} 的应答不是本接口的报文 {{code, type, message}} "
                        f"(HTTP {response.status_code}, {kind}: {_short(response.text, 80)!r})"
                    )
                if answer["code"] == refused_key:
                    raise NotStarted(
                        f"机构 {institution.code} 被服务器拒绝 (code {refused_key}: {_one_line(answer.get('message'))}): "
                        "检查 --institution 与 --key, 以及该机构是否已在服务器登记"
                    )
                if answer["code"] != self.plan.codes.get("not_implemented"):
                    break  # answered in the envelope by a transaction that exists: this institution is admitted
            self.progress(f"预检: 机构 {institution.code} 可以通信")

    def _harmless(self, operation: Operation, institution: Institution) -> dict[str, Any]:
        """A query that reads nothing: exams of 1 January 1900 (§2.6), or an index of that day (§2.7)."""
        envelope = self.envelope(operation, institution)
        if operation.infno == "queryExamRpotImgIndxListFHospital":
            person = dict((operation.example or {}).get("input") or {})
            return {**envelope, "input": {**person, "begntime": "1900-01-01", "endtime": "1900-01-01"}}
        save = self._operation("saveExamRpotImgInfo")
        index = str(((save.example or {}).get("input") or [{}])[0].get("hiImgIndx", "")) if save else ""
        parts = index.split("-")
        if len(parts) > 2:
            parts[2] = "19000101000000"
        return {**envelope, "input": {"hiImgIndx": "-".join(parts), "serviceName": "queryImgCaheFileSn"}}

    def _load_schemathesis(self) -> None:
        import schemathesis

        try:
            schema = schemathesis.openapi.from_path(str(self.options.spec))
        except Exception as error:  # noqa: BLE001 - any loader error means the run cannot start
            raise NotStarted(f"schemathesis cannot load {self.options.spec}: {error}") from error
        by_path = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            by_path[operation.path] = operation
        for operation in self.plan.operations:
            operation.st = by_path[operation.path]

    def fuzz(self) -> None:
        from schemathesis import GenerationMode

        # --duration is shared out evenly over the operations and both modes, so none is starved by a slow one.
        share = self.options.duration / (2 * len(self.operations)) if self.options.duration and self.operations else None
        examples = self.options.max_examples if share is None else 10**6
        institutions = itertools.cycle(self.options.institutions)
        for operation in self.operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                test = f"fuzz {mode.value}"
                self._deadline = time.monotonic() + share if share is not None else None
                before = self.report.tests.get((operation.name, test), 0)

                one = self._fuzz_test(operation, test, mode, examples, institutions)
                try:
                    one()
                except _Stop:
                    pass
                sent = self.report.tests.get((operation.name, test), 0) - before
                self.progress(f"{operation.name}: {test}: {sent} 个用例")

    def _fuzz_test(
        self, operation: Operation, test: str, mode: Any, examples: int, institutions: Iterator[Institution]
    ) -> Callable[[], None]:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed

        positive = mode.value == "positive"

        # Only the generate phase: a finding is recorded, never raised, so hypothesis neither shrinks nor replays.
        @hypothesis_seed(self.options.seed)
        @settings(
            max_examples=examples, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
        )
        @given(operation.st.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise _Stop
            self._fingerprint(operation, test, case.body, case.headers)
            body, headers = self.with_envelope(operation, case.body, dict(case.headers or {}), next(institutions))
            status, answer, case = self.send(operation, test, body, headers, case=case)
            if positive and operation.per_record and 400 <= status < 500:
                # A schema-valid message with an envelope that can pass is taken; its records are answered one by one.
                code = answer.get("code") if isinstance(answer, dict) else None
                refused = f"符合 schema 的报文被整体拒绝: HTTP {status}, code {code}"
                self._find(operation, test, "positive-refused", refused, None, status, case)

        return one

    def _fingerprint(self, operation: Operation, test: str, body: Any, headers: Any) -> None:
        """A digest of the generated cases (the envelope left out: msgid and infTime are fresh on every run), so that
        two runs with one seed can be shown to have sent the same cases."""
        envelope = {"infno", "msgid", "infTime", "infCode", "fixmedinsCode", "key"}

        def strip(value: Any) -> Any:
            return {k: v for k, v in dict(value).items() if k not in envelope} if isinstance(value, dict | Mapping) else value

        text = json.dumps([strip(body), strip(headers or {})], sort_keys=True, default=repr, ensure_ascii=False)
        digest = self._digests.setdefault(f"{operation.name} {test}", hashlib.sha256())
        digest.update(text.encode("utf-8", "surrogatepass"))
        self.report.fingerprints[f"{operation.name} {test}"] = digest.hexdigest()[:16]

    def _setup(self) -> dict[str, Any] | None:
        """A saved exam for the phases that need one (§2.3's record refers to an exam already saved)."""
        save = self._is_selected("saveExamRpotImgInfo") or self._operation("saveExamRpotImgInfo")
        if save is None or save.example is None:
            return None
        record = self.fresh_record(save)
        message, headers = self.with_envelope(save, {**save.example, "input": [record]}, None, self.options.institutions[0])
        status, answer, _ = self.send(save, "setup", message, headers)
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            self._note(save, "setup", f"规范的 §2.1 示例 (新索引) 未能保存: HTTP {status} {_short(answer)}")
            return None
        return record

    def _teardown(self, base: dict[str, Any] | None) -> None:
        delete = self._operation("deleteExamRpotImgIdxInfo")
        if base is None or delete is None:
            return
        message, headers = self.with_envelope(delete, {"input": [base["hiImgIndx"]]}, None, self.options.institutions[0])
        self.send(delete, "setup", message, headers)

    def _operation(self, infno: str) -> Operation | None:
        found = self.plan.by_infno(infno)
        return found[0] if found else None

    def _note(self, operation: Operation, test: str, message: str) -> None:
        self._find(operation, test, "setup", message, None, None, None)

    def fresh_record(self, save: Operation) -> dict[str, Any]:
        """The spec's §2.1 example record under a new index (a new exam time), its examDate following the index."""
        assert save.example is not None
        record = copy.deepcopy(save.example["input"][0])
        when = datetime(2020, 1, 1) + timedelta(seconds=self.random.randrange(5 * 365 * 86400))
        parts = str(record["hiImgIndx"]).split("-")
        parts[2] = f"{when:%Y%m%d%H%M%S}"
        record["hiImgIndx"] = "-".join(parts)
        if "examDate" in record:
            record["examDate"] = f"{when:%Y-%m-%d}"
        return record

    def fields(self, base: dict[str, Any] | None) -> None:
        """Each field broken one way on an otherwise valid message: refused, and a refused record names the field."""
        for operation in self.operations:
            if operation.multipart:
                self._multipart_fields(operation, base)
                continue
            message = self._base_message(operation, base)
            if message is None:
                continue
            sent = 0
            envelope_schema = {
                **operation.request,
                "properties": {k: v for k, v in operation.request.get("properties", {}).items() if k != "input"},
            }
            cases = [(b, False) for b in breakages(envelope_schema)]
            input_schema = merged(operation.request.get("properties", {}).get("input"))
            items = merged(input_schema.get("items"))
            if operation.per_record and "properties" in items:
                cases += [(b, True) for b in breakages(items, ("input", 0))]
            elif operation.per_record and items:
                item_schema = {
                    "properties": {
                        "item": {**items, "x-seq": input_schema.get("x-seq", "?"), "title": input_schema.get("title", "input")}
                    }
                }
                cases += [
                    (Breakage(("input", 0), replace_path(b.field, "input[0]"), b.value), True)
                    for b in breakages(item_schema)
                    if b.field.rule != "required"
                ]
            for breakage, in_record in cases:
                fresh, headers = self.with_envelope(operation, message, None, self.options.institutions[0])
                self._send_broken(operation, breakage, breakage.apply(fresh), headers, in_record)
                sent += 1
            self.progress(f"{operation.name}: fields: {sent} 个用例")

    def _multipart_fields(self, operation: Operation, base: dict[str, Any] | None) -> None:
        """§2.2/§2.4: an upload that is taken, then each header and form field broken one way: each is refused."""
        form = self._base_upload(operation, base)
        if form is None:
            return
        institution = self.options.institutions[0]
        body, headers = self.with_envelope(operation, form, None, institution)
        status, answer, case = self.send(operation, "fields base upload", body, headers)
        if self._not_implemented(operation, status, answer):
            return
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            refused = f"合规的上传 (逐字段用例的基础) 被拒绝: HTTP {status} {_short(answer)}"
            self._find(operation, "fields base upload", "positive-refused", refused, None, status, case)
            return
        header_schema = {
            "required": [name for name, param in operation.header_params.items() if param.get("required")],
            "properties": {name: param.get("schema", {}) for name, param in operation.header_params.items()},
        }
        sent = 0
        for breakage in breakages(header_schema):
            _, headers = self.with_envelope(operation, form, None, institution)
            self._send_broken(operation, breakage, form, breakage.apply(headers), in_record=False)
            sent += 1
        for breakage in breakages(operation.request):
            _, headers = self.with_envelope(operation, form, None, institution)
            self._send_broken(operation, breakage, breakage.apply(form), headers, in_record=False)
            sent += 1
        self.progress(f"{operation.name}: fields: {sent} 个用例")

    def _send_broken(self, operation: Operation, breakage: Breakage, body: Any, headers: dict[str, Any], in_record: bool) -> None:
        test = f"field {breakage.field.path} {breakage.field.rule}"
        status, answer, case = self.send(operation, test, body, headers, field=breakage.field)
        self._expect_refusal(operation, breakage, in_record, status, answer, case)

    def _base_upload(self, operation: Operation, base: dict[str, Any] | None) -> dict[str, Any] | None:
        """A form the server should take: the base exam's index, and for §2.2 a DICOM file of its registered study."""
        if base is None:
            return None
        properties = operation.request.get("properties", {})
        file_field = next((name for name, spec in properties.items() if _is_file(merged(spec))), None)
        if file_field is None:
            return None
        study_uid = str(base.get("studyUid") or "1.2.826.0.1.3680043.8.498.1")
        accession = str(base.get("accessionNumber") or "1").split(",")[0]
        if operation.infno == "saveImgFile":
            if not self._register(base["hiImgIndx"], study_uid, accession, test="fields register"):
                return None
            data, _, _ = make_dicom(study_uid, accession)
        else:
            data = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        values = {
            "hiImgIndx": base["hiImgIndx"],
            "studyUid": study_uid,
            "accessionNumber": accession,
            "rpotNo": str(base.get("rpotNo") or "1"),
            "imageTotalNum": "1",
            "fileMd5": hashlib.md5(data, usedforsecurity=False).hexdigest().upper(),
        }
        form: dict[str, Any] = {name: values[name] for name in properties if name in values}
        form[file_field] = data
        return form

    def _base_message(self, operation: Operation, base: dict[str, Any] | None) -> dict[str, Any] | None:
        if operation.example is None:
            return None
        message = copy.deepcopy(operation.example)
        records = message.get("input")
        if operation.infno == "saveExamRpotImgInfo" and base is not None:
            message["input"] = [base]
        elif isinstance(records, list) and records and base is not None:
            first = records[0]
            message["input"] = [{**first, "hiImgIndx": base["hiImgIndx"]} if isinstance(first, dict) else base["hiImgIndx"]]
        elif isinstance(records, list) and records:
            message["input"] = records[:1]
        return message

    def _expect_refusal(
        self, operation: Operation, breakage: Breakage, in_record: bool, status: int, answer: Any, case: Any
    ) -> None:
        if status == 0 or status >= 500 or not isinstance(answer, dict):
            return  # already a finding (no answer, server error, outside the envelope)
        test = f"field {breakage.field.path} {breakage.field.rule}"
        not_implemented = self.plan.codes.get("not_implemented")
        if status == 501 or answer.get("code") == not_implemented:
            return
        if status >= 400 and answer.get("code") != self.plan.codes.get("success", 0):
            return  # the message refused as a whole
        if not in_record:
            taken = f"报文中的字段违反规范, 报文仍被接受: HTTP {status}, code {answer.get('code')}"
            self._find(operation, test, "negative-accepted", taken, breakage.field, status, case)
            return
        data = answer.get("data")
        result = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        if str(result.get("succFlag")) == "1":
            saved = f"记录中的字段违反规范 (值 '{_short(_shown(breakage.value), 40)}'), 记录仍被保存 (succFlag 1)"
            self._find(operation, test, "negative-accepted", saved, breakage.field, status, case)
        elif breakage.field.code not in json.dumps(result, ensure_ascii=False):
            unnamed = f"记录被拒绝, 但应答没有指出字段 {breakage.field.code}: {_short(str(result.get('message')), 200)}"
            self._find(operation, test, "refusal-names-field", unnamed, breakage.field, status, case)

    def replay(self) -> None:
        """The same message twice: the first answer again. The same msgid with another body: refused."""
        conflict = self.plan.codes.get("msgid_conflict")
        for operation in self.operations:
            if operation.multipart or not operation.per_record or operation.name != operation.infno:
                continue
            message = self._base_message(operation, None)
            if operation.infno == "saveExamRpotImgInfo" and operation.example is not None:
                message = {**operation.example, "input": [self.fresh_record(operation)]}
            if message is None:
                continue
            fresh, headers = self.with_envelope(operation, message, None, self.options.institutions[0])
            first_status, first, _ = self.send(operation, "replay", fresh, headers)
            again_status, again, case = self.send(operation, "replay", fresh, headers)
            if (first_status, first) != (again_status, again):
                differs = (
                    f"同一报文第二次发送, 应答与第一次不同: 第一次 HTTP {first_status} {_short(first)}; "
                    f"第二次 HTTP {again_status} {_short(again)}"
                )
                self._find(operation, "replay", "replay-differs", differs, None, again_status, case)
            changed = {**fresh, "input": fresh["input"] + fresh["input"]}
            status, answer, case = self.send(operation, "replay", changed, headers)
            code = answer.get("code") if isinstance(answer, dict) else None
            if (
                status < 400
                or code in (None, self.plan.codes.get("success", 0))
                or (conflict is not None and code != conflict)
            ):
                reused = f"已用过的 msgid 配上改动的报文体, 应被拒绝 (code {conflict}), 实为 HTTP {status}, code {code}"
                self._find(operation, "replay", "msgid-reuse", reused, None, status, case)
            if operation.infno == "saveExamRpotImgInfo":
                self._teardown(fresh["input"][0])
            self.progress(f"{operation.name}: replay: 3 个用例")

    # the chain

    def _not_implemented(self, operation: Operation, status: int, answer: Any) -> bool:
        code = answer.get("code") if isinstance(answer, dict) else None
        if status == 501 or (code is not None and code == self.plan.codes.get("not_implemented")):
            self.report.not_implemented[operation.name] = f"HTTP {status}, code {code}"
            return True
        return False

    def _chain_failure(self, operation: Operation, step: str, message: str, status: int | None, case: Any) -> None:
        self._find(operation, step, "chain", message, None, status, case)

    def chain(self) -> None:
        save, delete = self._is_selected("saveExamRpotImgInfo"), self._is_selected("deleteExamRpotImgIdxInfo")
        if save is None or delete is None or save.example is None:
            return
        record = self._save_fresh(save, "chain 1 save")
        if record is None:
            return
        index = record["hiImgIndx"]
        self._query_finds(record, expect=True, step="chain 2 query finds it")
        study_uid = str(record.get("studyUid") or "1.2.826.0.1.3680043.8.498.1")
        accession = str(record.get("accessionNumber") or "1").split(",")[0]
        registered = self._register(index, study_uid, accession)
        if len(self.options.institutions) > 1:
            self._others_cannot_write(index, study_uid, accession)
        sop = self._upload(index, study_uid, accession) if registered else None
        if sop is not None:
            study, series, sop_uid, md5 = sop
            self._fetch(index, study, series, sop_uid, _same_md5(md5), ("chain 5 list", "chain 6 fetch"))
        if not self._delete(delete, index, "chain 7 delete"):
            return
        self._query_finds(record, expect=False, step="chain 8 query no longer finds it")
        self.progress("chain: 完成")

    def _save_fresh(self, save: Operation, step: str, **fields: str) -> dict[str, Any] | None:
        """The spec's example record under a fresh index (and `fields`), saved (§2.1); None, with a finding, when
        it is not."""
        assert save.example is not None
        record = {**self.fresh_record(save), **fields}
        message, headers = self.with_envelope(save, {**save.example, "input": [record]}, None, self.options.institutions[0])
        status, answer, case = self.send(save, step, message, headers)
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            detail = f"规范的 §2.1 示例 (新索引) 未能保存: HTTP {status} {_short(answer)}"
            self._chain_failure(save, step, detail, status, case)
            return None
        return record

    def _delete(self, delete: Operation, index: str, step: str) -> bool:
        message, headers = self.with_envelope(delete, {"input": [index]}, None, self.options.institutions[0])
        status, answer, case = self.send(delete, step, message, headers)
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            self._chain_failure(delete, step, f"已保存的检查未能删除 (§2.5): HTTP {status} {_short(answer)}", status, case)
            return False
        return True

    # --- dicom ---------------------------------------------------------------------------------------------

    def dicom(self) -> None:
        """With --dicom: C-ECHO, then C-STORE of one instance of a study saved and registered over HTTP, which
        §2.7 must list and §2.8 return; the exam is deleted again."""
        if self.dicom_peer is None:
            return
        save, register = self._operation("saveExamRpotImgInfo"), self._operation("saveImgInfo")
        delete = self._operation("deleteExamRpotImgIdxInfo")
        if save is None or register is None or delete is None or save.example is None:
            self._dicom_finding(ECHO, "dicom", "规范中没有 §2.1/§2.3/§2.5, 无法为 DICOM 实例准备检查")
            return
        from pydicom import dcmread
        from pynetdicom import AE, build_context
        from pynetdicom.sop_class import SecondaryCaptureImageStorage, Verification  # type: ignore[attr-defined]

        host, port = self.dicom_peer
        ae = AE(ae_title=self.options.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.options.timeout
        contexts = [build_context(Verification), build_context(SecondaryCaptureImageStorage)]
        association = ae.associate(host, port, contexts=contexts, ae_title=self.options.called_ae)
        if not association.is_established:
            why = "被拒绝 (rejected)" if association.is_rejected else "被中止 (aborted)" if association.is_aborted else "未建立"
            self._dicom_finding(ECHO, "dicom 1 echo", f"关联 {self.options.calling_ae} -> {self.options.called_ae} {why}")
            return
        try:
            status = association.send_c_echo()
            self._dicom_status(ECHO, "dicom 1 echo", status)
            # A study of its own: a C-STORE names no exam, only its study, which the spec's example record shares
            # with every exam the earlier phases saved from it (each of them may have registered it).
            from pydicom.uid import generate_uid

            record = self._save_fresh(save, "dicom 2 save", studyUid=generate_uid())
            if record is None:
                return
            index = record["hiImgIndx"]
            study_uid = str(record.get("studyUid") or "1.2.826.0.1.3680043.8.498.1")
            accession = str(record.get("accessionNumber") or "1").split(",")[0]
            if self._register(index, study_uid, accession, test="dicom 3 register"):
                data, series_uid, sop_uid = make_dicom(study_uid, accession)
                sent = dcmread(io.BytesIO(data))
                stored = self._dicom_status(STORE, "dicom 4 store", association.send_c_store(sent))
                if stored:
                    steps = ("dicom 5 list", "dicom 6 fetch")
                    self._fetch(index, study_uid, series_uid, sop_uid, _same_instance(sent), steps)
            self._delete(delete, index, "dicom 7 delete")
        finally:
            association.release()
        self.progress("dicom: 完成")

    def _dicom_status(self, service: str, test: str, status: Any) -> bool:
        """Whether a DIMSE answer says success (0x0000); a finding when it does not."""
        code = getattr(status, "Status", None)
        if code == 0x0000:
            self._dicom_count(service, test)
            return True
        said = "没有应答 (关联已断开)" if code is None else f"状态 0x{code:04X}"
        comment = getattr(status, "ErrorComment", None)
        self._dicom_finding(service, test, said + (f": {comment}" if comment else ""))
        return False

    def _dicom_count(self, service: str, test: str) -> None:
        key = (service, test)
        self.report.tests[key] = self.report.tests.get(key, 0) + 1
        self.report.sections[service] = "DICOM"

    def _dicom_finding(self, service: str, test: str, message: str) -> None:
        self._dicom_count(service, test)
        self.report.findings.append(Finding(service, "DICOM", test, "dicom", message))
        self.progress(f"  发现: {service} {test}: {message[:160]}")

    def _others_cannot_write(self, index: str, study_uid: str, accession: str) -> None:
        """Another registered institution can neither register images for nor delete an exam it did not save."""
        other = self.options.institutions[1]
        attempts = [
            ("saveImgInfo", "chain 3b another institution registers", None),
            ("deleteExamRpotImgIdxInfo", "chain 3c another institution deletes", [index]),
        ]
        for infno, step, given in attempts:
            operation = self._is_selected(infno)
            if operation is None:
                continue
            records = given if given is not None else [self._image_record(operation, index, study_uid, accession)]
            message, headers = self.with_envelope(operation, {**(operation.example or {}), "input": records}, None, other)
            status, answer, case = self.send(operation, step, message, headers)
            data = answer.get("data") if isinstance(answer, dict) else None
            taken = (
                status == 200
                and isinstance(data, list)
                and any(isinstance(r, dict) and str(r.get("succFlag")) == "1" for r in data)
            )
            if taken:
                changed = f"机构 {other.code} 改动了另一机构保存的检查 (应被拒绝)"
                self._chain_failure(operation, step, changed, status, case)

    def _query_finds(self, record: dict[str, Any], expect: bool, step: str) -> None:
        query = self._is_selected("queryExamRpotImgIndxListFHospital")
        if query is None:
            return
        exam_day = date.fromisoformat(str(record.get("examDate"))) if record.get("examDate") else date.today()
        example_input = (query.example or {}).get("input", {})
        wanted = {name: record[name] for name in ("psnName", "psnCertType", "certno") if name in record}
        body = {
            **(query.example or {}),
            "input": {
                **example_input,
                **wanted,
                "begntime": f"{exam_day - timedelta(days=1):%Y-%m-%d}",
                "endtime": f"{exam_day + timedelta(days=1):%Y-%m-%d}",
            },
        }
        message, headers = self.with_envelope(query, body, None, self.options.institutions[0])
        status, answer, case = self.send(query, step, message, headers)
        if self._not_implemented(query, status, answer) or not isinstance(answer, dict):
            return
        found = [
            item for item in (answer.get("data") or []) if isinstance(item, dict) and item.get("hiImgIndx") == record["hiImgIndx"]
        ]
        if status != 200 or bool(found) != expect:
            said = "已保存的检查, §2.6 查不到" if expect else "已删除的检查, §2.6 仍查得到"
            self._chain_failure(query, step, f"{said}: HTTP {status}, code {answer.get('code')}", status, case)

    @staticmethod
    def _image_record(register: Operation, index: str, study_uid: str, accession: str) -> dict[str, Any]:
        """The spec's example §2.3 record for this exam: fields a revision adds to it (a new required one) come along."""
        examples = (register.example or {}).get("input") or [{}]
        base = examples[0] if isinstance(examples[0], dict) else {}
        return {**base, "hiImgIndx": index, "studyUid": study_uid, "accessionNumber": accession, "imageTotalNum": "1"}

    def _register(self, index: str, study_uid: str, accession: str, test: str = "chain 3 register") -> bool:
        # The chain registers only when §2.3 is among the transactions checked; the field cases of §2.2 need it anyway.
        register = self._is_selected("saveImgInfo") or (None if test.startswith("chain") else self._operation("saveImgInfo"))
        if register is None:
            return False
        body = {**(register.example or {}), "input": [self._image_record(register, index, study_uid, accession)]}
        message, headers = self.with_envelope(register, body, None, self.options.institutions[0])
        status, answer, case = self.send(register, test, message, headers)
        if self._not_implemented(register, status, answer):
            return False
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            self._chain_failure(register, test, f"检查的影像未能登记 (§2.3): HTTP {status} {_short(answer)}", status, case)
            return False
        return True

    def _upload(self, index: str, study_uid: str, accession: str) -> tuple[str, str, str, str] | None:
        upload = self._is_selected("saveImgFile")
        if upload is None:
            return None
        data, series_uid, sop_uid = make_dicom(study_uid, accession)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        try:
            form = self.messages(self.options.institutions[0]).upload_image(
                data, hi_img_indx=index, study_uid=study_uid, accession_number=accession, image_total_num=1, file_md5=md5.upper()
            )
        except ValueError as error:  # the spec's example exam gives a value its own form refuses
            self._chain_failure(upload, "chain 4 upload", f"无法为该检查构造合规的上传: {error}", None, None)
            return None
        body, headers = {**form.fields, form.file_field: data}, form.headers
        status, answer, case = self.send(upload, "chain 4 upload", body, headers)
        if self._not_implemented(upload, status, answer):
            return None
        if status != 200 or not isinstance(answer, dict) or answer.get("code") != self.plan.codes.get("success", 0):
            self._chain_failure(
                upload, "chain 4 upload", f"DICOM 文件未被接收 (§2.2): HTTP {status} {_short(answer)}", status, case
            )
            return None
        return study_uid, series_uid, sop_uid, md5

    def _fetch(
        self,
        index: str,
        study_uid: str,
        series_uid: str,
        sop_uid: str,
        check: Callable[[bytes], str | None],
        steps: tuple[str, str],
    ) -> None:
        """§2.7 lists the instance and §2.8 returns it, as `check` (a problem, or None) judges the file's bytes."""
        fetch = self._is_selected("queryImgCaheFIndex")
        if fetch is None:
            return
        list_step, fetch_step = steps
        messages = self.messages(self.options.institutions[0])
        status, answer, case = self.send(fetch, list_step, wire(messages.list_images(index)), {})
        if self._not_implemented(fetch, status, answer) or not isinstance(answer, dict):
            return
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        listed = [item for item in (data.get("imgFileSnList") or []) if isinstance(item, dict)]
        wanted = {"examUuid": study_uid, "snUuid": series_uid, "instUuid": sop_uid}
        if status != 200 or not any(all(item.get(k) == v for k, v in wanted.items()) for item in listed):
            detail = f"§2.7 的清单中没有刚发送的实例: HTTP {status}, code {answer.get('code')}, 清单中 {len(listed)} 个实例"
            self._chain_failure(fetch, list_step, detail, status, case)
            return
        status, answer, case = self.send(fetch, fetch_step, wire(messages.fetch_image(index, wanted)), {})
        if self._not_implemented(fetch, status, answer) or not isinstance(answer, dict):
            return
        content = (answer.get("data") or {}).get("fileContent") if isinstance(answer.get("data"), dict) else None
        try:
            problem = check(base64.b64decode(content or "", validate=True))
        except ValueError:
            problem = "§2.8 的 fileContent 不是 Base64"
        if status != 200 or problem:
            self._chain_failure(fetch, fetch_step, problem or f"HTTP {status}", status, case)


def _is_file(schema: dict[str, Any]) -> bool:
    return schema.get("format") == "binary" or schema.get("x-type") == "File"


def replace_path(ref: FieldRef, path: str) -> FieldRef:
    return FieldRef(path, ref.code if ref.code != "item" else "input", ref.title, ref.seq, ref.rule)


ECHO, STORE = "C-ECHO", "C-STORE"


def _dicom_peer(given: str) -> tuple[str, int]:
    host, _, port = given.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise NotStarted(f"--dicom {given}: 应为 C-STORE SCP 的 HOST:PORT")
    return host, int(port)


def _same_md5(md5: str) -> Callable[[bytes], str | None]:
    """§2.2's file comes back byte for byte."""

    def check(data: bytes) -> str | None:
        got = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return None if got == md5 else f"§2.8 返回文件的 MD5 是 {got}, 与上传文件的 {md5} 不同"

    return check


def _same_instance(sent: Any) -> Callable[[bytes], str | None]:
    """A C-STORE'd instance comes back as a Part 10 file of the same SOP instance, study, series and pixels (its
    file meta is the receiver's own, so the bytes of the file need not be the sender's)."""

    def check(data: bytes) -> str | None:
        from pydicom import dcmread

        try:
            got = dcmread(io.BytesIO(data))
        except Exception as error:  # noqa: BLE001 - whatever pydicom says of it is the finding
            return f"§2.8 的 fileContent 不是 DICOM Part 10 文件: {error}"
        for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "PixelData"):
            if got.get(keyword) != sent.get(keyword):
                return f"§2.8 返回文件的 {keyword} 与 C-STORE 发送的实例不同"
        return None

    return check


def _schemathesis_checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _case_insensitive(headers: dict[str, Any]) -> Any:
    from requests.structures import CaseInsensitiveDict

    return CaseInsensitiveDict(headers)


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _first_line(message: str) -> str:
    return next((line.strip() for line in (message or "").splitlines() if line.strip()), "")


_JSON_TYPES = {"list": "数组", "str": "字符串", "int": "整数", "float": "数", "bool": "布尔值", "NoneType": "null"}


def _is_envelope(answer: Any) -> bool:
    """{code, message, ...} with an integer code: the shape every answer of this interface has."""
    return isinstance(answer, dict) and isinstance(answer.get("code"), int) and "message" in answer


def no_answer(error: requests.RequestException) -> str:
    """Why a request got no answer, in a few words (not the connection pool's traceback of causes)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "连接超时"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "等待应答超时 (--timeout)"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS 握手失败"
    if isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return "URL 无效 (应为 http://HOST:PORT)"
    text = str(error)
    for marker, said in (
        ("Connection refused", "连接被拒绝 (该端口没有服务在监听)"),
        ("Failed to resolve", "无法解析主机名"),
        ("Name or service not known", "无法解析主机名"),
        ("nodename nor servname", "无法解析主机名"),
        ("Temporary failure in name resolution", "无法解析主机名"),
        ("No route to host", "无法到达主机"),
        ("Network is unreachable", "网络不可达"),
        ("Connection reset", "连接被对方重置"),
        ("RemoteDisconnected", "对方未应答即关闭连接"),
    ):
        if marker in text:
            return said
    return f"连接失败 ({type(error).__name__})"


# schemathesis' failures, by class, as the report names them: (check, what it says)
_SCHEMATHESIS = {
    "ServerError": ("server-error", "服务器错误 (HTTP 5xx)"),
    "UndefinedStatusCode": ("status-code", "HTTP 状态码不在规范为此交易声明的应答之中"),
    "UndefinedContentType": ("content-type", "应答的 Content-Type 不在规范声明之中"),
    "MissingContentType": ("content-type", "应答没有 Content-Type"),
    "MalformedMediaType": ("content-type", "应答的 Content-Type 格式不对"),
    "JsonSchemaError": ("response-schema", "应答不符合规范的 schema"),
    "MalformedJson": ("response-schema", "应答不是合法的 JSON"),
}


def _said_by_schemathesis(failure: Any, response: Any) -> tuple[str, str]:
    """A schemathesis failure as (check, message in Chinese): the response's status, where in the answer, and
    schemathesis' own first line in brackets."""
    check, said = _SCHEMATHESIS.get(type(failure).__name__, (failure.title, failure.title))
    if check == "server-error" or check == "status-code":
        said += f": HTTP {response.status_code}"
    elif check == "content-type":
        said += f": {response.headers.get('content-type', '无')}"
    path = getattr(failure, "instance_path", None)
    if path is not None:
        said += f": 位置 {'/'.join(str(p) for p in path) or '(根)'}"
    raw = getattr(failure, "_raw_message", None) or _first_line(failure.message)
    return check, f"{said} ({_short(raw, 160)})" if raw and check != "server-error" else said


def _one_line(text: Any, limit: int = 120) -> str:
    return _short(" ".join(str(text).split()), limit)


def _shown(value: Any) -> str:
    return "缺失" if value is _MISSING else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def run(options: Options, progress: Callable[[str], None] | None = None) -> Report:
    """One conformance run; raises NotStarted when it cannot start."""
    return Runner(options, progress).run()
