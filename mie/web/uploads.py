"""§2.2 saveImgFile and §2.4 saveRptFile: the multipart body parsed as it streams in, the file part written
straight into mie's spool and hashed on the way, then one hop to a worker thread for the transaction.

Through connexion, the form was first parsed by Starlette into a temporary file of its own (in memory up to
1 MiB), after connexion's routing and validation layers, and then copied by the service into the spool: two
copies of every file and about a millisecond of middleware per request. Here an ASGI layer placed just inside
connexion's exception middleware takes these two POSTs when they are multipart/form-data (anything else goes on
to connexion, which answers it as before), so that every refusal raised here (MieError, HTTPException) is
answered by the same error handlers, in the spec's envelope.

What the request may hold is bounded as before: the boundary is required, the body may not exceed
--max-file-bytes plus 64 KiB, nor hold more than MAX_PARTS parts; a text field is at most MAX_FIELD_BYTES
(Starlette's limit); a part's header lines are bounded by python-multipart (8 lines of 4 KiB). The file part is
the first one of the file's name that carries a filename (as before); other file parts are read and dropped.
A file part cut short (no delimiter after it) is no file: the form then lacks it. The spool file is removed on
every way out unless the transaction kept it, and the answer is sent only after the service returns, that is
after its durable commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from generated.models import ResponseCode
from mie import runtime
from mie.contract import Contract
from mie.contract.body import MAX_FIELD_BYTES, MAX_PARTS
from mie.service.answers import Answer, MieError
from mie.service.uploads import FileTooLarge, SpoolWriter, open_upload_spool
from mie.web.validators import body_chunks, multipart_boundary

# images.save_img_file, reports.save_rpt_file: (contract, database, store, headers, form, file, max_file_bytes)
FileService = Callable[..., Answer]

FORM_ROOM = 64 * 1024
"""Room in the body for the form's text fields, part headers and delimiters beside the file."""


def upload_routes(contract: Contract) -> dict[str, tuple[str, FileService]]:
    """Path -> (the file part's name, the service), for the two uploads."""
    from mie.service import images, reports

    def build() -> dict[str, tuple[str, FileService]]:
        return {
            contract.transaction("saveImgFile").path: ("dicom", images.save_img_file),
            contract.transaction("saveRptFile").path: ("examRpotPdf1", reports.save_rpt_file),
        }

    return contract.memo("web-upload-routes", build)


def _is_multipart_form(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


class StreamingUploads:
    """The ASGI layer that takes §2.2 and §2.4 multipart POSTs (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = upload_routes(runtime.current().contract).get(scope["path"])
            if route is not None and _is_multipart_form(scope):
                await self._upload(scope, receive, send, *route)
                return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, file_field: str, service: FileService) -> None:
        current = runtime.current()
        max_file_bytes = current.settings.max_file_bytes
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        boundary = multipart_boundary(content_type)
        limit = max_file_bytes + FORM_ROOM
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise MieError(ResponseCode.payload_too_large, f"请求体超过 {limit} 字节")
        charset = _charset(content_type)
        form = StreamedForm(boundary, charset, file_field, lambda: open_upload_spool(current.store), max_file_bytes)
        try:
            await form.read(receive, limit)
            # One hop for the whole transaction: authentication, the form's check, the file's fsync, the ingest's
            # group commit and the remembered answer's commit.
            file, fields = form.file(), form.fields
            answer = await run_in_threadpool(
                service, current.contract, current.database, current.store, dict(headers), fields, file, max_file_bytes
            )
        finally:
            form.discard()
        body = current_jsonifier().dumps(answer.body).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": answer.http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode("ascii"))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def current_jsonifier() -> Any:
    from mie.web.app import JSONIFIER  # the same encoder as connexion's answers (ensure_ascii off)

    return JSONIFIER


def _charset(content_type: str) -> str:
    """The charset the Content-Type names for the text fields (UTF-8 if none), as Starlette's parse read it."""
    _, options = parse_options_header(content_type)
    charset = options.get(b"charset", b"utf-8")
    name = charset.decode("latin-1") if isinstance(charset, bytes) else str(charset)
    try:
        "".encode(name)
    except LookupError:
        return "latin-1"
    return name


def _decoded(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


class StreamedForm:
    """A multipart body read as it arrives: text fields kept (the first of each name), the file part written into
    the spool as its bytes come, other file parts dropped."""

    def __init__(
        self, boundary: bytes, charset: str, file_field: str, open_spool: Callable[[], SpoolWriter], max_file_bytes: int
    ) -> None:
        self.fields: dict[str, str] = {}
        self._charset = charset
        self._file_field = file_field
        self._open_spool = open_spool
        self._max_file_bytes = max_file_bytes
        self._writer: SpoolWriter | None = None
        self._file_complete = False
        self._parts = 0
        # the part being read: its header lines, its kind, its text
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._kind: str = ""  # "text", "file" (the one kept), "other" (a file part dropped)
        self._name = ""
        self._text = bytearray()
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                },
            )
        except FormParserError as error:  # a boundary longer than RFC 2046's 70 characters
            raise HTTPException(400, f"Invalid multipart boundary: {error}") from None

    async def read(self, receive: Receive, limit: int) -> None:
        async for chunk in body_chunks(receive, limit):
            if chunk:
                try:
                    self._parser.write(chunk)
                except FormParserError as error:
                    raise HTTPException(400, f"Invalid multipart data: {error}") from None
        # A body cut short leaves the part it cut unfinished: its text is dropped, and a file part is no file.
        self._parser.finalize()

    def file(self) -> SpoolWriter | None:
        return self._writer if self._file_complete else None

    def discard(self) -> None:
        """Remove the spool file unless the transaction kept it (a no-op then)."""
        if self._writer is not None:
            self._writer.discard()

    # python-multipart's callbacks ----------------------------------------------------------------------------------
    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise MieError(ResponseCode.envelope_invalid, f"表单超过 {MAX_PARTS} 个部分 (more than {MAX_PARTS} parts)")
        self._disposition = b""
        self._kind = ""
        self._text = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise HTTPException(400, 'The Content-Disposition header field "name" must be provided.')
        self._name = _decoded(options[b"name"], self._charset)
        if b"filename" not in options:
            self._kind = "text"
        elif self._name == self._file_field and self._writer is None:
            self._kind = "file"
            self._writer = self._open_spool()
        else:
            self._kind = "other"

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            assert self._writer is not None
            self._writer.write(memoryview(data)[start:end])
            if self._writer.size > self._max_file_bytes:
                error = FileTooLarge(self._max_file_bytes)
                raise MieError(ResponseCode.payload_too_large, str(error))
        elif self._kind == "text":
            if len(self._text) + end - start > MAX_FIELD_BYTES:
                raise HTTPException(400, f"Part exceeded maximum size of {MAX_FIELD_BYTES // 1024}KB.")
            self._text += data[start:end]

    def _on_part_end(self) -> None:
        if self._kind == "text":
            self.fields.setdefault(self._name, _decoded(bytes(self._text), self._charset))
        elif self._kind == "file":
            self._file_complete = True
        self._kind = ""
