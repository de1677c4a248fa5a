"""connexion's JSON body validation, answering in the spec's terms.

connexion's own validator stops at the first error, answers problem+json, and fails with a 500 on a body
that is not UTF-8. This one reads the body within a size limit, refuses what is not JSON with the
catalogue's code, and checks the envelope with the validator compiled from the spec, naming every
broken field. The records of `input` are left to the transaction, which answers each on its own.
"""

from __future__ import annotations

import json
import typing as t

from connexion.validators import AbstractRequestBodyValidator, JSONRequestBodyValidator
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope

from generated.models import ResponseCode
from mie.service.answers import MieError
from mie.service.envelope import check_envelope


class StreamingMultipartValidator(AbstractRequestBodyValidator):
    """Multipart bodies are not read here at all: connexion's own validator would hold the whole upload in
    memory to replay it. The handler's form parse spools file parts to disk; this only bounds the body size
    as it streams in, and the transaction checks every field against the spec."""

    max_body_bytes: int = 1024 * 1024 * 1024

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        limit = self.max_body_bytes + 64 * 1024  # room for the form's text fields and boundaries
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
            return message

        return bounded, scope


class EnvelopeJSONValidator(JSONRequestBodyValidator):
    max_body_bytes: int = 10 * 1024 * 1024

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {self.max_body_bytes} 字节")
        if length in ("", "0") and "chunked" not in headers.get("transfer-encoding", ""):
            raise MieError(ResponseCode.malformed_body, "请求体为空")
        return await super().wrap_receive(receive, scope=scope)

    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        chunks: list[bytes] = []
        size = 0
        async for chunk in stream:
            size += len(chunk)
            if size > self.max_body_bytes:
                raise MieError(ResponseCode.payload_too_large, f"请求体超过 {self.max_body_bytes} 字节")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise MieError(ResponseCode.malformed_body, "请求体为空")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MieError(ResponseCode.malformed_body, f"请求体不是有效的 UTF-8 (第 {error.start} 字节)") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise MieError(ResponseCode.malformed_body, f"第 {error.lineno} 行第 {error.colno} 列: {error.msg}") from None

    def _validate(self, body: t.Any) -> None:
        check_envelope(self._schema, body)
