"""uvicorn's HTTP/1.1 protocol (httptools), with a bounded request head and answers in the envelope.

uvicorn bounds neither the size of a request head nor its number of headers (200 kB of headers, or 20,000 of
them, reach the app), and answers a request it cannot parse in text/plain. This protocol refuses a head larger
than MAX_HEAD_BYTES before it is parsed further, and answers both in the spec's envelope (code 1003).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from generated.models import ResponseCode
from mie.service.answers import MieError

MAX_HEAD_BYTES = 64 * 1024
"""Request line and headers together; the largest envelope in headers (§2.2/§2.4) is under 300 bytes."""
CLOSE_SECONDS = 10.0
"""How long a refused client may go on sending (dropped) before the connection is closed anyway."""


def _envelope_400(detail: str) -> bytes:
    answer = MieError(ResponseCode.envelope_invalid, detail).answer()
    body = json.dumps(answer.body, ensure_ascii=False).encode("utf-8")
    head = (
        f"HTTP/1.1 {answer.http_status} Bad Request\r\ncontent-type: application/json; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._refused = False
        self._completed = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return None  # read and dropped until the client closes: closing first would reset the answer away
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            return self._refuse_head()
        self._completed = False
        super().data_received(data)
        # Counted only while a head is incomplete and no message ended in this chunk: a body never counts.
        if self._in_head and not self._completed:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._refuse_head()
        return None

    def _refuse_head(self) -> None:
        self.logger.info("refused: request head over %d bytes", MAX_HEAD_BYTES)
        self._answer_and_close(f"请求头超过 {MAX_HEAD_BYTES} 字节 (request head larger than {MAX_HEAD_BYTES} bytes)")

    def _answer_and_close(self, detail: str) -> None:
        """Answer, close our side, and drop what still comes until the client closes (at most CLOSE_SECONDS)."""
        self._refused = True
        self.transport.write(_envelope_400(detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(CLOSE_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._completed = True
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        self._answer_and_close(f"请求不是有效的 HTTP/1.1 ({msg})")
