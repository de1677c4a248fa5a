"""`mie proxy --upstream URL`: a validating proxy between a sender (a hospital's HIS) and a real processor.

Every request is forwarded to the upstream unchanged (method, path, query, headers but the hop-by-hop ones, body)
and its answer returned unchanged; on the way, both are checked against the spec, as Prism's proxy mode does:

- the request against its transaction's request schema, by `mie validate`'s own machinery (the transaction read
  from the URL, as the processor routes it): a JSON body in full, a §2.2/§2.4 multipart upload by its envelope
  headers, its form fields and what the file checks read of the file (MD5, type, the DICOM header's study and
  accession), all taken on the way through;
- the answer against the response schema the spec gives its HTTP status: the content type, the envelope (a
  `code` of the catalogue with the HTTP status the catalogue gives it, a `type` that goes with it), the schema's
  fields, and for §2.1/§2.3/§2.5 one answer per input record, in order, with a `succFlag` of its enumeration.

Each violation is one log line in the spec's terms (direction, transaction, field code, Chinese name, 序号, rule,
severity) and, with `--log-json`, one JSON line. Observing changes nothing; `--strict` refuses a request with
errors in the spec's error envelope instead of forwarding it (Prism's --errors). An upstream that cannot be
reached is answered 502 (504 when it does not answer in time), in the same envelope.

Large bodies stream: a multipart upload is parsed as it passes (its file hashed, only its head kept; under
--strict it waits in a temporary file, not in memory, until it is judged), and an answer is relayed chunk by
chunk while a copy with every very long string cut short (§2.8's Base64 file) is kept to check the envelope
around it. Only a JSON request body is read whole before it is forwarded, up to MAX_JSON_BYTES.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mie.contract import Contract, current
from mie.contract.body import BodyRefused, declared_charset, decode_body, parse_json
from mie.contract.validation import ERROR, SEVERITY_NAMES, WARNING, FieldError, Validator
from mie.toolkit.conformance import Operation, Plan, plan_of
from mie.toolkit.validate import Finding, UploadReader, validate_document, validate_text

log = logging.getLogger("mie.proxy")

# A JSON request is judged whole before it is forwarded; beyond this it is forwarded unjudged, and that is logged
# (processors refuse far smaller bodies, mie serve by --max-body-bytes: a message this large is itself the news).
MAX_JSON_BYTES = 32 * 1024 * 1024
# Of an answer, at most this much is kept to be checked once the long strings are cut (an index list of
# thousands of exams stays well under it).
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# A string of the answer longer than this is kept only to this length: every maxLength of the spec is far
# below it, so a kept string still breaks exactly the rules the whole one breaks.
KEEP_STRING_BYTES = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # under --strict, an upload beyond this waits on disk until it is judged

# RFC 9110 §7.6.1: these describe one connection, not the message; a proxy does not pass them on.
HOP_BY_HOP = frozenset(
    ("connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer transfer-encoding upgrade").split()
)

REQUEST, ANSWER = "request", "answer"
_DIRECTION_NAMES = {REQUEST: "请求", ANSWER: "应答"}


@dataclass(frozen=True)
class Options:
    upstream: str
    strict: bool = False
    timeout: float = 30.0
    log_json: Path | None = None
    contract: Contract | None = None  # the revision to check against (--spec); None: the bundled one


@dataclass(frozen=True)
class Violation:
    """One broken rule, of a request or of its answer, named as the spec names it."""

    direction: str  # request or answer
    method: str
    path: str
    transaction: str | None
    section: str
    msgid: str | None
    finding: Finding
    status: int | None = None  # the answer's HTTP status

    def line(self) -> str:
        f = self.finding
        name = f"{self.transaction} (§{self.section})" if self.transaction else self.path
        status = f" HTTP {self.status}" if self.status is not None else ""
        msgid = f" msgid {self.msgid}" if self.msgid else ""
        severity = SEVERITY_NAMES[f.severity]
        return f"{_DIRECTION_NAMES[self.direction]} {name}{msgid}{status}: [{severity}] {f.where} [{f.rule}] {f.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "method": self.method,
            "path": self.path,
            "transaction": self.transaction,
            "section": self.section,
            "msgid": self.msgid,
            "status": self.status,
            **self.finding.as_dict(),
        }


class ViolationLog:
    """Where violations go: a log line each, and a JSON line each in `json_path` when given."""

    def __init__(self, json_path: Path | None = None) -> None:
        self.json_path = json_path
        self._lock = threading.Lock()  # checks run in worker threads: one JSON line at a time

    def record(self, violation: Violation) -> None:
        log.warning("%s", violation.line())
        if self.json_path is not None:
            with self._lock, self.json_path.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(violation.as_dict(), ensure_ascii=False) + "\n")


# --- the answer, kept with its long strings cut -------------------------------------------------------------------

_QUOTE_OR_BACKSLASH = re.compile(rb'["\\]')


class ClippedJSON:
    """The bytes of a JSON text as they pass, kept with every string longer than `keep` bytes cut to about `keep`
    (at a character boundary, never inside an escape), so that §2.8's Base64 file is not kept while the
    envelope around it still parses. Past `limit` bytes kept, nothing more is kept (`overflow`)."""

    def __init__(self, keep: int = KEEP_STRING_BYTES, limit: int = MAX_ANSWER_BYTES) -> None:
        self.keep, self.limit = keep, limit
        self.kept = bytearray()
        self.size = 0  # bytes seen
        self.cut = 0  # strings cut
        self.overflow = False
        self._in_string = False
        self._escaped = False  # the last byte of the string was a backslash: the next one is escaped
        self._run = 0  # bytes of the current string kept
        self._dropping = False  # the current string is being cut

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        position, end = 0, len(chunk)
        while position < end and not self.overflow:
            if not self._in_string:
                quote = chunk.find(b'"', position)
                stop = end if quote < 0 else quote + 1
                self._keep(chunk[position:stop])
                if quote >= 0:
                    self._in_string, self._run, self._dropping = True, 0, False
                position = stop
            elif self._escaped:
                self._escaped = False
                self._string(chunk[position : position + 1])
                position += 1
            else:
                special = _QUOTE_OR_BACKSLASH.search(chunk, position)
                stop = end if special is None else special.start()
                if stop > position:
                    self._string(chunk[position:stop])
                    position = stop
                    continue
                if chunk[stop] == 0x5C:  # a backslash
                    self._string(b"\\")
                    self._escaped = True
                else:
                    if self._dropping:
                        self.cut += 1
                    self._keep(b'"')
                    self._in_string = False
                position = stop + 1

    def _string(self, segment: bytes) -> None:
        if self._dropping:
            return
        room = max(0, self.keep - self._run)
        if len(segment) <= room:
            self._keep(segment)
            self._run += len(segment)
            return
        self._keep(segment[:room])
        self._run += room
        for offset in range(room, len(segment)):
            byte = segment[offset]
            # Cut before a byte that starts a character, with no escape (\uXXXX is six bytes) still open.
            if byte & 0xC0 != 0x80 and b"\\" not in self.kept[-5:]:
                self._dropping = True
                return
            self._keep(segment[offset : offset + 1])
            self._run += 1

    def _keep(self, data: bytes) -> None:
        self.kept += data
        if len(self.kept) > self.limit:
            self.overflow = True
            self.kept.clear()


# --- one exchange: a request and its answer -----------------------------------------------------------------------


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@dataclass
class Exchange:
    """What the proxy learns of one request and its answer, and the violations it found."""

    plan: Plan
    sink: ViolationLog
    method: str
    path: str
    operation: Operation | None
    msgid: str | None = None
    records: Any = None  # the request's input, for §2.1/§2.3/§2.5's one answer per record

    @property
    def transaction(self) -> str | None:
        return self.operation.infno if self.operation else None

    def report(self, direction: str, findings: list[Finding], status: int | None = None) -> None:
        section = self.operation.section if self.operation else ""
        for finding in findings:
            if finding.severity in (ERROR, WARNING):  # information (an alias read, a field ignored) is no violation
                self.sink.record(
                    Violation(direction, self.method, self.path, self.transaction, section, self.msgid, finding, status)
                )

    # requests

    def judge_json(self, body: bytes, content_type: str) -> list[Finding]:
        assert self.operation is not None
        try:  # read as the processor reads a body (ERRATA E-JSON-STRICT)
            text, _ = decode_body(body, declared_charset(content_type))
            message = parse_json(text)
        except BodyRefused as refusal:
            return [Finding(ERROR, "$", refusal.detail, "json")]
        if isinstance(message, dict):
            self.msgid = message.get("msgid") if isinstance(message.get("msgid"), str) else None
            self.records = message.get("input")
        return validate_text(text, self.operation.infno, self.path, contract=self.plan.contract).findings

    def judge_upload(self, headers: Mapping[str, str], reader: UploadReader) -> list[Finding]:
        assert self.operation is not None
        self.msgid = next((value for name, value in headers.items() if name.lower() == "msgid"), None)
        if reader.problem:
            return [Finding(ERROR, "$", reader.problem, "multipart")]
        return validate_document(reader.capture(headers), self.operation.infno, self.path, contract=self.plan.contract).findings

    def content_type_finding(self, content_type: str) -> Finding | None:
        assert self.operation is not None
        expected = "multipart/form-data" if self.operation.multipart else "application/json"
        if _media_type(content_type) != expected:
            return Finding(ERROR, "$", f"Content-Type {content_type or '(无)'} 与接口规定的 {expected} 不符", "contentType")
        return None

    # answers

    def judge_answer(self, status: int, content_type: str, encoding: str, body: ClippedJSON) -> list[Finding]:
        operation = self.operation
        assert operation is not None
        responses = self.plan.contract.resolved["paths"][operation.path]["post"]["responses"]
        declared = responses.get(str(status))
        if declared is None:
            statuses = ", ".join(sorted(responses))
            return [Finding(ERROR, "$", f"HTTP {status} 不是该接口规定的应答状态 ({statuses})", "status")]
        media = next(iter(declared.get("content", {}) or {"application/json": {}}))
        if _media_type(content_type) != media:
            return [Finding(ERROR, "$", f"应答的 Content-Type {content_type or '(无)'} 不是接口规定的 {media}", "contentType")]
        if encoding not in ("", "identity") or body.overflow:
            unchecked = f"以 {encoding} 压缩" if encoding not in ("", "identity") else f"超过 {MAX_ANSWER_BYTES} 字节"
            log.info("%s %s: 应答%s, 未校验其内容 (原样转发)", self.method, self.path, unchecked)
            return []
        try:
            answer = json.loads(bytes(body.kept).decode("utf-8-sig"))
        except ValueError as error:
            return [Finding(ERROR, "$", f"应答不是有效的 JSON: {error}", "json")]
        schema = declared.get("content", {}).get(media, {}).get("schema", {})
        findings = self._envelope(status, answer)
        if isinstance(answer, dict):
            outcome = _validator(self.plan.contract, schema).validate(answer)
            findings += [_finding("$", error) for error in [*outcome.errors, *outcome.advisories]]
            if operation.per_record and status == 200 and isinstance(self.records, list):
                findings += self._per_record(answer)
        return findings

    def _envelope(self, status: int, answer: Any) -> list[Finding]:
        """A `code` of the catalogue, with the HTTP status the catalogue gives it, and a `type` that goes with it."""
        if not isinstance(answer, dict):
            return [Finding(ERROR, "$", f"应答应为对象 {{code, type, message, data}}, 实为 {type(answer).__name__}", "envelope")]
        code_schema = self.plan.contract.resolved["components"]["schemas"]["ResponseCode"]
        findings: list[Finding] = []
        code = answer.get("code")
        if "code" not in answer:
            return findings  # the schema's `required` names it
        if not isinstance(code, int) or isinstance(code, bool) or code not in self.plan.http_status:
            detail = f"{code!r} 不在错误码目录 ResponseCode 中"
            findings.append(_finding("$", _named(code_schema, "code", "enum", detail)))
            return findings
        if self.plan.http_status[code] != status:
            detail = f"{code} 在错误码目录中对应 HTTP {self.plan.http_status[code]}, 实为 HTTP {status}"
            findings.append(_finding("$", _named(code_schema, "code", "httpStatus", detail)))
        partial = {self.plan.codes.get("some_records_refused"), self.plan.codes.get("all_records_refused")}
        expected = "success" if code == self.plan.codes.get("success", 0) else "error"
        if "type" in answer and answer["type"] != expected and code not in partial:
            detail = f"{answer['type']!r} 与 code {code} 不符 (应为 {expected!r})"
            findings.append(_finding("$", FieldError("type", "type", "类型", "", "envelope", detail)))
        return findings

    def _per_record(self, answer: dict[str, Any]) -> list[Finding]:
        """§2.1/§2.3/§2.5: one answer per input record, in order; the message's code says whether all were taken."""
        records: list[Any] = self.records
        data = answer.get("data")
        result_schema = self.plan.contract.resolved["components"]["schemas"].get("RecordResult", {})
        if not isinstance(data, list) or len(data) != len(records):
            count = f"有 {len(data)} 条应答" if isinstance(data, list) else "没有应答"
            detail = f"发送 {len(records)} 条记录, data 中{count} (每条输入记录应有一条应答, 同序)"
            return [Finding(ERROR, "$.data", f"data(逐条应答): {detail}", "perRecord", "data", "逐条应答")]
        findings: list[Finding] = []
        flags = []
        for number, (record, result) in enumerate(zip(records, data, strict=True)):
            if not isinstance(result, dict):
                continue  # the schema's check names it
            flags.append(str(result.get("succFlag")))
            sent = record if isinstance(record, str) else (record.get("hiImgIndx") if isinstance(record, dict) else None)
            answered = next((result[name] for name in self.plan.index_names if result.get(name)), None)
            if isinstance(sent, str) and isinstance(answered, str) and answered != sent and "*" not in answered:
                detail = f"第 {number + 1} 条应答的索引不是第 {number + 1} 条记录的 (应答应与输入记录同序)"
                error = _named(result_schema, "hiImgIndx", "order", detail, f"data[{number}].hiImgIndx")
                findings.append(_finding("$", error))
        success = self.plan.codes.get("success", 0)
        if flags and all(flag == "1" for flag in flags) != (answer.get("code") == success):
            detail = f"code {answer.get('code')} 与逐条的 succFlag {flags} 不符"
            error = _named(self.plan.contract.resolved["components"]["schemas"]["ResponseCode"], "code", "succFlag", detail)
            findings.append(_finding("$", error))
        return findings


def _named(schema: Mapping[str, Any], code: str, rule: str, detail: str, path: str | None = None) -> FieldError:
    """A FieldError naming `code` by the title and 序号 the schema (or its property `code`) gives it."""
    prop = schema.get("properties", {}).get(code, schema)
    seq = prop.get("x-seq")
    return FieldError(path or code, code, str(prop.get("title", code)), "" if seq is None else f"#{seq}", rule, detail)


def _finding(base: str, error: FieldError) -> Finding:
    where = f"{base}.{error.path}" if error.path and not error.path.startswith("[") else f"{base}{error.path}"
    return Finding(error.severity, where, str(error), error.rule, error.code, error.title, error.seq)


def _validator(contract: Contract, schema: Mapping[str, Any]) -> Validator:
    """The validator of a response schema of `contract` (which holds it, so its id stays its own)."""
    return contract.memo(f"proxy-validator:{id(schema)}", lambda: contract.validator_of(schema))


# --- the app ------------------------------------------------------------------------------------------------------


def _forwardable(raw: list[tuple[bytes, bytes]], *, drop: frozenset[str] = frozenset()) -> list[tuple[bytes, bytes]]:
    """Headers a proxy passes on: all but the hop-by-hop ones, and those the Connection header names."""
    named = {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    return [(name, value) for name, value in raw if name.decode("latin-1").lower() not in HOP_BY_HOP | named | drop]


def _error_answer(plan: Plan, status: int, code_name: str, message: str, data: list[dict[str, str]] | None) -> Response:
    """An answer in the spec's error envelope (ErrorResponse)."""
    body = {"code": plan.codes[code_name], "type": "error", "message": message, "data": data}
    return JSONResponse(body, status_code=status)


# The refusal of a request under --strict: the code the processor would give its first error.
_REFUSAL_CODES = {
    "json": "malformed_body",
    "multipart": "malformed_body",
    "contentType": "unsupported_media_type",
    "md5": "file_md5_mismatch",
    "fileType": "file_invalid",
    "fileMismatch": "file_mismatch",
}


def _refusal(plan: Plan, errors: list[Finding]) -> Response:
    code_name = _REFUSAL_CODES.get(errors[0].rule, "envelope_invalid")
    code = plan.codes[code_name]
    rules = set(plan.contract.resolved["components"]["schemas"]["FieldError"]["properties"]["rule"].get("enum", ()))
    data = [
        {
            "path": f.where,
            "code": f.code,
            "title": f.title,
            "seq": f.seq,
            "rule": f.rule,
            "severity": f.severity,
            "message": f.message,
        }
        for f in errors
        if f.rule in rules  # FieldError's rule is an enumeration: the others are said in the message
    ]
    said = "; ".join(f.message for f in errors[:5]) + (f" 等 {len(errors)} 个错误" if len(errors) > 5 else "")
    message = f"mie proxy: 请求不符合规范, 未转发: {said}"
    return _error_answer(plan, plan.http_status[code], code_name, message, data or None)


def create_app(options: Options, sink: ViolationLog | None = None) -> Starlette:
    """The proxy as an ASGI app, checking against `options.contract` (default: the bundled contract)."""
    plan = plan_of(options.contract or current())
    routes = {operation.path: operation for operation in plan.operations}
    sink = sink or ViolationLog(options.log_json)
    upstream = options.upstream.rstrip("/")
    client = httpx.AsyncClient(timeout=options.timeout, follow_redirects=False)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    async def judge(
        exchange: Exchange, direction: str, check: Callable[[], list[Finding]], status: int | None = None
    ) -> list[Finding]:
        """Run a check off the event loop (a large §2.1 message takes a while) and report what it finds. A check
        that fails is logged and the message passes on unchecked: the traffic never depends on the checker."""
        try:
            findings = await run_in_threadpool(check)
        except Exception:  # noqa: BLE001 - whatever breaks in a check, the exchange goes on
            log.exception(
                "mie proxy: checking the %s of %s %s failed; passed on unchecked", direction, exchange.method, exchange.path
            )
            return []
        exchange.report(direction, findings, status)
        return findings

    async def proxy(request: Request) -> Response:
        path = request.url.path
        operation = routes.get(path)
        exchange = Exchange(plan, sink, request.method, path, operation)
        content_type = request.headers.get("content-type", "")
        stream = request.stream()
        body: Any = stream
        streamed: UploadReader | None = None  # an upload judged once it has passed on to the upstream
        if operation is not None and request.method != "POST":
            method = Finding(ERROR, "$", f"接口只接受 POST, 收到 {request.method}", "method")
            exchange.report(REQUEST, [method])
        elif operation is not None:
            findings: list[Finding] = []
            wrong_type = exchange.content_type_finding(content_type)
            if wrong_type is not None:
                findings = [wrong_type]
                exchange.report(REQUEST, findings)
            elif operation.multipart:
                reader = UploadReader(content_type)
                if options.strict:
                    body = await _spool(stream, reader)
                    findings = await judge(exchange, REQUEST, lambda: exchange.judge_upload(request.headers, reader))
                else:
                    body, streamed = _tee(stream, reader), reader
            else:
                data, rest = await _read_upto(stream, MAX_JSON_BYTES)
                if rest is None:
                    findings = await judge(exchange, REQUEST, lambda: exchange.judge_json(data, content_type))
                    body = data
                else:
                    log.info("%s %s: 请求体超过 %d 字节, 未校验 (原样转发)", request.method, path, MAX_JSON_BYTES)
                    body = _chain(data, rest)
            errors = [f for f in findings if f.severity == ERROR]
            if options.strict and errors:
                if isinstance(body, _Spooled):
                    body.close()
                log.info("%s %s: refused (--strict), not forwarded: %d error(s)", request.method, path, len(errors))
                return _refusal(plan, errors)

        url = upstream + request.scope.get("raw_path", path.encode()).decode("latin-1")
        if request.url.query:
            url += "?" + request.url.query
        headers = _forwardable(list(request.headers.raw), drop=frozenset({"host"}))
        outgoing = client.build_request(request.method, url, headers=headers, content=body)
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.TimeoutException as error:
            message = f"上游前置机 {upstream} 未在 {options.timeout:g} 秒内应答 ({type(error).__name__})"
            return _unreachable(exchange, 504, message)
        except httpx.HTTPError as error:
            return _unreachable(exchange, 502, f"上游前置机 {upstream} 无法连接: {type(error).__name__}: {error}")
        finally:
            if isinstance(body, _Spooled):
                body.close()
        if streamed is not None:  # the upstream has the whole upload now: all of it has passed through the reader
            upload = streamed
            upload.finish()
            await judge(exchange, REQUEST, lambda: exchange.judge_upload(request.headers, upload))
        relayed = ClippedJSON()

        async def relay() -> AsyncIterator[bytes]:
            # The last chunk is held back until the answer has been judged: by the time a sender has its whole
            # answer, the answer's violations are in the log (and a test, or a watcher, can rely on that).
            held: bytes | None = None
            try:
                async for chunk in answer.aiter_raw():
                    relayed.feed(chunk)
                    if held is not None:
                        yield held
                    held = chunk
            finally:
                await answer.aclose()
            # Reached only when the whole answer has come (not when the sender hung up halfway).
            if operation is not None and request.method == "POST":
                status, answer_headers = answer.status_code, answer.headers
                encoding = answer_headers.get("content-encoding", "").lower()

                def check() -> list[Finding]:
                    return exchange.judge_answer(status, answer_headers.get("content-type", ""), encoding, relayed)

                await judge(exchange, ANSWER, check, status)
            if held is not None:
                yield held

        response = StreamingResponse(relay(), status_code=answer.status_code)
        response.raw_headers = _forwardable(list(answer.headers.raw))
        return response

    def _unreachable(exchange: Exchange, status: int, message: str) -> Response:
        log.error("%s %s: %s", exchange.method, exchange.path, message)
        return _error_answer(plan, status, "unavailable", message, None)

    async def failed(request: Request, error: Exception) -> Response:
        # A fault of the proxy itself is said in the spec's envelope too, never as a bare page or a traceback.
        log.exception("mie proxy: %s %s failed", request.method, request.url.path, exc_info=error)
        return _error_answer(plan, 500, "internal_error", f"mie proxy: 内部错误 ({type(error).__name__})", None)

    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    catch_all = [Route("/{path:path}", proxy, methods=methods)]
    return Starlette(routes=catch_all, lifespan=lifespan, exception_handlers={Exception: failed})


# --- bodies on their way ------------------------------------------------------------------------------------------


async def _read_upto(stream: AsyncIterator[bytes], limit: int) -> tuple[bytes, AsyncIterator[bytes] | None]:
    """The body whole if it is at most `limit` bytes; else what was read and the stream to read the rest from."""
    data = bytearray()
    async for chunk in stream:
        data += chunk
        if len(data) > limit:
            return bytes(data), stream
    return bytes(data), None


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _tee(stream: AsyncIterator[bytes], reader: UploadReader) -> AsyncIterator[bytes]:
    async for chunk in stream:
        reader.feed(chunk)
        yield chunk


class _Spooled:
    """An upload held (beyond SPOOL_IN_MEMORY, on disk) until it is judged, then sent on from there."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by close()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(64 * 1024):
            yield chunk

    def close(self) -> None:
        self.file.close()


async def _spool(stream: AsyncIterator[bytes], reader: UploadReader) -> _Spooled:
    spool = _Spooled()
    async for chunk in stream:
        reader.feed(chunk)
        spool.file.write(chunk)
    reader.finish()
    return spool
