"""connexion's JSON body validation, answering in the spec's terms.

connexion's own validator stops at the first error, answers problem+json, and fails with a 500 on a body
that is not UTF-8, nested too deeply or holding a number of over 4,300 digits. This one reads the body within a
size limit, decodes it (BOM, declared charset such as GBK, else UTF-8), parses it strictly (ERRATA
E-JSON-STRICT), refuses what is not JSON with the catalogue's code, and checks the envelope with the validator
compiled from the spec, naming every broken field. The records of `input` are left to the transaction, which
answers each on its own. Multipart bodies are only bounded here (size, boundary, number of parts).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from connexion.validators import AbstractRequestBodyValidator, JSONRequestBodyValidator, ParameterValidator
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract import body as contract_body
from mie.contract.body import MAX_DEPTH, MAX_PARTS, BodyRefused, declared_charset
from mie.contract.validation import Outcome
from mie.service.answers import MieError
from mie.service.envelope import check_envelope


class HeadersLeftToTheTransaction(ParameterValidator):
    """§2.2/§2.4 carry their envelope in request headers; the transaction checks them against the spec, naming
    every broken field and masking the key. connexion's check would stop at the first, echo the value whole
    (a 100 kB header came back in the answer) and answer before the transaction could."""

    def validate_header_parameter(self, param: dict[str, t.Any], request: t.Any) -> str | None:
        return None


async def body_chunks(receive: Receive, limit: int) -> t.AsyncIterator[bytes]:
    """A request body's pieces as they arrive; refused once they pass `limit` bytes, or when the client leaves
    before the last one (the JSON transactions read it whole, the uploads parse it as it comes)."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise MieError(ResponseCode.malformed_body, "请求体未收全, 连接已断开")
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
        yield chunk
        if not message.get("more_body", False):
            return


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


async def read_json_bytes(headers: Headers, receive: Receive, max_body_bytes: int) -> bytes:
    """A JSON request's body, read whole within `max_body_bytes` (refused beyond it, or when there is none)."""
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_body_bytes:
        raise MieError(ResponseCode.payload_too_large, f"请求体超过 {max_body_bytes} 字节")
    if length in ("", "0") and "chunked" not in headers.get("transfer-encoding", ""):
        raise MieError(ResponseCode.malformed_body, "请求体为空")
    return b"".join([chunk async for chunk in body_chunks(receive, max_body_bytes)])


def read_json(raw: bytes, content_type: str) -> t.Any:
    """A JSON request's body as the contract reads it (decode_body, then parse_json)."""
    return parse_json(decode_body(raw, declared_charset(content_type))[0])


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
        raw = await read_json_bytes(headers, receive, self.max_body_bytes)
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


__all__ = ["MAX_DEPTH", "declared_charset", "decode_body", "parse_json"]  # the contract's reading, in the envelope


def decode_body(raw: bytes, charset: str | None) -> tuple[str, str]:
    """The contract's decode_body, its refusal in the spec's envelope."""
    try:
        return contract_body.decode_body(raw, charset)
    except BodyRefused as refusal:
        raise MieError(refusal.code, refusal.detail) from None


def parse_json(text: str) -> t.Any:
    """The contract's strict parse_json, its refusal in the spec's envelope."""
    try:
        return contract_body.parse_json(text)
    except BodyRefused as refusal:
        raise MieError(refusal.code, refusal.detail) from None
