"""connexion's JSON body validation, answering in the spec's terms.

connexion's own validator stops at the first error, answers problem+json, and fails with a 500 on a body
that is not UTF-8, nested too deeply or holding a number of over 4,300 digits. This one reads the body within a
size limit, decodes it (BOM, declared charset such as GBK, else UTF-8), parses it strictly (ERRATA
E-JSON-STRICT), refuses what is not JSON with the catalogue's code, and checks the envelope with the validator
compiled from the spec, naming every broken field. The records of `input` are left to the transaction, which
answers each on its own. Multipart bodies are only bounded here (size, boundary, number of parts).
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
import typing as t
from dataclasses import dataclass

from connexion.validators import AbstractRequestBodyValidator, JSONRequestBodyValidator, ParameterValidator
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.validation import Outcome
from mie.service.answers import MieError
from mie.service.envelope import check_envelope


class HeadersLeftToTheTransaction(ParameterValidator):
    """§2.2/§2.4 carry their envelope in request headers; the transaction checks them against the spec, naming
    every broken field and masking the key. connexion's check would stop at the first, echo the value whole
    (a 100 kB header came back in the answer) and answer before the transaction could."""

    def validate_header_parameter(self, param: dict[str, t.Any], request: t.Any) -> str | None:
        return None


MAX_PARTS = 64
"""More multipart parts than this are refused as they stream in: the forms have seven fields, and each file part
may take up to 1 MiB of memory in Starlette's parse before it spills to disk."""


def multipart_boundary(content_type: str) -> bytes:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1")
    raise MieError(
        ResponseCode.envelope_invalid,
        "multipart/form-data 请求缺少 boundary 参数 (Content-Type: multipart/form-data has no boundary)",
    )


class StreamingMultipartValidator(AbstractRequestBodyValidator):
    """Multipart bodies are not parsed here: connexion's own validator would hold the whole upload in memory to
    replay it. The handler's form parse spools file parts to disk; this bounds the body's size and its number
    of parts as it streams in, and the transaction checks every field against the spec."""

    max_body_bytes: int = 1024 * 1024 * 1024

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        limit = self.max_body_bytes + 64 * 1024  # room for the form's text fields and boundaries
        headers = Headers(scope=scope)
        delimiter = b"--" + multipart_boundary(headers.get("content-type", ""))
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
        received = 0
        delimiters = 0
        tail = b""  # a delimiter may be split between two messages

        async def bounded() -> Message:
            nonlocal received, delimiters, tail
            message = await receive()
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
            window = tail + chunk
            delimiters += window.count(delimiter) - tail.count(delimiter)
            tail = window[-(len(delimiter) - 1) :]
            if delimiters > MAX_PARTS + 1:  # the closing delimiter follows the last part
                raise MieError(ResponseCode.envelope_invalid, f"表单超过 {MAX_PARTS} 个部分 (more than {MAX_PARTS} parts)")
            return message

        return bounded, scope


CHECKED_BODY = "mie.checked_body"
"""The request scope's key under which EnvelopeJSONValidator leaves the body it parsed and the outcome of its
envelope check (a CheckedBody), so that a handler needs neither parse nor validate it again."""


@dataclass(frozen=True)
class CheckedBody:
    body: t.Any
    outcome: Outcome


def checked_body(scope: Scope) -> CheckedBody | None:
    checked = scope.get(CHECKED_BODY)
    return checked if isinstance(checked, CheckedBody) else None


class EnvelopeJSONValidator(JSONRequestBodyValidator):
    """Reads the body within the size limit, decodes it (`decode_body`), parses it strictly (`parse_json`) and
    checks the envelope; the parsed body and the check's outcome are left in the scope (`checked_body`). A
    handler that reads the body again gets it as UTF-8, re-encoded only when it came in another encoding."""

    max_body_bytes: int = 10 * 1024 * 1024
    contract: Contract  # the processor's (create_app sets it), whose validators check the envelope

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {self.max_body_bytes} 字节")
        if length in ("", "0") and "chunked" not in headers.get("transfer-encoding", ""):
            raise MieError(ResponseCode.malformed_body, "请求体为空")
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise MieError(ResponseCode.malformed_body, "请求体未收全, 连接已断开")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise MieError(ResponseCode.payload_too_large, f"请求体超过 {self.max_body_bytes} 字节")
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        raw = b"".join(chunks)
        text, encoding = decode_body(raw, declared_charset(headers.get("content-type", "")))
        body = parse_json(text)
        scope[CHECKED_BODY] = CheckedBody(body, check_envelope(self.contract, self._schema, body))
        if encoding != "utf-8":
            raw = text.encode("utf-8")
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]}
            scope["headers"].append((b"content-length", str(len(raw)).encode("ascii")))
        replay = iter([{"type": "http.request", "body": raw, "more_body": False}])

        async def replayed() -> Message:
            for message in replay:
                return message
            return await receive()

        return replayed, scope

    def _validate(self, body: t.Any) -> None:
        check_envelope(self.contract, self._schema, body)


# Charsets a JSON body may declare. GBK and GB2312 are read as GB18030, their superset: many hospital systems
# still send GBK. Anything else is refused rather than guessed.
_CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-32": "utf-32",
    "utf-32le": "utf-32-le",
    "utf-32be": "utf-32-be",
}
# A byte-order mark says the encoding before any declaration does (as WHATWG's decode does); longest first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
MAX_DEPTH = 32
"""Nesting deeper than this is refused: the spec's bodies nest five levels, and a deep body must not reach
code that recurses (Python's json stops near 1,000 levels with RecursionError)."""


def declared_charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def decode_body(raw: bytes, charset: str | None) -> tuple[str, str]:
    """The body's text and the codec that read it: by its byte-order mark, else by the charset its
    Content-Type declares, else UTF-8."""
    if not raw.strip():
        raise MieError(ResponseCode.malformed_body, "请求体为空")
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding is None and charset is not None:
        encoding = _CHARSETS.get(charset)
        if encoding is None:
            raise MieError(
                ResponseCode.unsupported_media_type,
                f"不支持的字符集 charset={charset[:40]}; 请用 UTF-8, 或声明 charset=GBK / GB18030 (unsupported charset)",
            )
    encoding = encoding or "utf-8"
    if encoding == "utf-8" and b"\x00" in raw[:4]:  # JSON text begins with ASCII: NULs there mean UTF-16/32
        raise MieError(
            ResponseCode.malformed_body,
            "请求体像是没有 BOM 的 UTF-16/32; 请用 UTF-8 (not UTF-8: looks like UTF-16 or UTF-32 without a byte-order mark)",
        )
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as error:
        named = (charset or encoding).upper()
        detail = f"请求体不是有效的 {named} (第 {error.start} 字节; invalid {named} at byte {error.start})"
        if charset is None and encoding == "utf-8" and _decodes_as_gb18030(raw):
            detail += "; 若为 GBK/GB18030 编码, 请在 Content-Type 中声明 charset=GBK (declare the charset)"
        raise MieError(ResponseCode.malformed_body, detail) from None


def _decodes_as_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _show_name(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def _unique_keys(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    """Two values of one field are ambiguous (RFC 8259 §4 leaves it to the reader): refuse, naming the field."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise MieError(
                    ResponseCode.malformed_body,
                    f"字段 {_show_name(name)} 在同一对象中出现了两次, 取哪个值不明确 (duplicate key {_show_name(name)!r})",
                )
            seen.add(name)
    return value


def _no_constant(name: str) -> t.NoReturn:
    raise MieError(ResponseCode.malformed_body, f"{name} 不是 JSON 的数 (RFC 8259 §6: {name} is not a JSON number)")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise MieError(ResponseCode.malformed_body, f"数 {_show_name(text)} 超出范围 (number out of range)")
    return number


def parse_json(text: str) -> t.Any:
    """Strict JSON: no NaN or Infinity, no number beyond a float's range or 4,300 digits (Python's limit),
    no key twice in one object, at most MAX_DEPTH levels of nesting."""
    try:
        body = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise MieError(ResponseCode.malformed_body, f"第 {error.lineno} 行第 {error.colno} 列: {error.msg}") from None
    except RecursionError:
        raise MieError(ResponseCode.malformed_body, f"嵌套超过 {MAX_DEPTH} 层 (nested too deeply)") from None
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise MieError(ResponseCode.malformed_body, f"数的位数超过 {limit} 位 (number longer than {limit} digits)") from None
    # No more levels than opening brackets (those inside strings only add to the count): most bodies skip the walk.
    if text.count("{") + text.count("[") > MAX_DEPTH and _deeper_than(body, MAX_DEPTH):
        raise MieError(ResponseCode.malformed_body, f"嵌套超过 {MAX_DEPTH} 层 (nested too deeply)")
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(body):
        raise MieError(ResponseCode.malformed_body, "字符串中有不成对的 \\u 代理项, 不是 Unicode 字符 (lone surrogate escape)")
    return body


# "\ud800" alone is valid JSON but no character: PostgreSQL (and UTF-8) cannot store it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(body: t.Any) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _deeper_than(value: t.Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (walked level by level, no recursion)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[t.Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            inner.extend(item for item in items if type(item) is dict or type(item) is list)
        level = inner
    return False
