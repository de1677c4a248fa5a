"""HTTP entry points of DICOMweb (PS3.18) at /dicom-web, a link's read-only root at /dicom-web/t/{token}, and
WADO-URI at /wado (and /dicom-web/t/{token}/wado).

Thin: read the path, query and headers, call `mie.service.dicomweb`, answer DICOM JSON, multipart/related
(instances streamed from their files a MiB at a time, frames, bulk data) or an image. A refusal is a short
text/plain answer with its status (401 with WWW-Authenticate), never the spec's envelope: these are not the
interface's transactions. STOW-RS bodies are parsed as they arrive, each part written into mie's spool.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from mie.runtime import current
from mie.service import dicomweb
from mie.service.dicomweb import Caller, DicomwebRefused
from mie.service.uploads import SpoolWriter, open_upload_spool

log = logging.getLogger("mie.dicomweb")

DICOM_JSON = "application/dicom+json"
_CHUNK = 1024 * 1024
# An answer of instances this size or less is read in one go and sent whole: streaming it a MiB at a time costs a
# thread hop per read, which is most of the CPU of a one-instance retrieve (as a viewer asks for one).
WHOLE_ANSWER = 8 * 1024 * 1024
MAX_STOW_PARTS = 10_000
# Patient data: no shared cache may keep it; the browser may not guess types.
_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """A refusal becomes its status and a line of text; anything unexpected a 500, logged, never a trace."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except DicomwebRefused as refused:
            return Response(refused.reason + "\n", refused.status, {**_HEADERS, **refused.headers}, "text/plain; charset=utf-8")
        except Exception:
            log.exception("DICOMweb %s %s failed", request.method, request.url.path)
            return Response("internal error (服务器内部错误)\n", 500, _HEADERS, "text/plain; charset=utf-8")

    return guarded


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _caller(request: Request) -> Caller:
    runtime = current()
    token = request.path_params.get("token")
    if token is not None:
        return await run_in_threadpool(dicomweb.admit_token, runtime, token, _client(request))
    return await run_in_threadpool(dicomweb.admit_basic, runtime, request.headers.get("authorization"), _client(request))


def _json(body: bytes, gzipped: bool = False) -> Response:
    headers = {**_HEADERS, **({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzipped else {})}
    return Response(body, 200, headers, DICOM_JSON)


# --- QIDO-RS ----------------------------------------------------------------------------------------------------------
def _search(level: str) -> Handler:
    @_guarded
    async def search(request: Request) -> Response:
        caller = await _caller(request)
        fixed = {}
        if "study" in request.path_params:
            fixed["StudyInstanceUID"] = request.path_params["study"]
        if "series" in request.path_params:
            fixed["SeriesInstanceUID"] = request.path_params["series"]
        parameters = list(request.query_params.multi_items())
        body = await run_in_threadpool(dicomweb.search, current(), caller, level, fixed, parameters)
        return _json(body)

    search.__name__ = f"qido_{level}"
    return search


# --- WADO-RS ----------------------------------------------------------------------------------------------------------
def _uids(request: Request) -> tuple[str, str | None, str | None]:
    params = request.path_params
    return params["study"], params.get("series"), params.get("sop")


@_guarded
async def retrieve(request: Request) -> Response:
    caller = await _caller(request)
    study, series, sop = _uids(request)
    refs = await run_in_threadpool(dicomweb.instances, current(), caller, study, series, sop, "WADO-RS retrieve")
    boundary = uuid.uuid4().hex
    media = f'multipart/related; type="application/dicom"; boundary={boundary}'
    if sum(ref.size for ref in refs) <= WHOLE_ANSWER:
        parts = await run_in_threadpool(dicomweb.read_whole, current(), refs)
        body = b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {len(part)}\r\n\r\n".encode() + part + b"\r\n"
            for part in parts
        )
        return Response(body + f"--{boundary}--\r\n".encode(), 200, _HEADERS, media)

    async def body_stream() -> AsyncIterator[bytes]:
        runtime = current()
        for ref in refs:
            yield f"--{boundary}\r\nContent-Type: application/dicom\r\nContent-Length: {ref.size}\r\n\r\n".encode()
            file = await run_in_threadpool(dicomweb.open_file, runtime, ref)
            try:
                while chunk := await run_in_threadpool(file.read, _CHUNK):
                    yield chunk
            finally:
                file.close()
            yield b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return StreamingResponse(body_stream(), 200, _HEADERS, media)


@_guarded
async def metadata(request: Request) -> Response:
    caller = await _caller(request)
    study, series, sop = _uids(request)
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "").lower()
    body, gzipped = await run_in_threadpool(dicomweb.metadata, current(), caller, study, series, sop, gzip_ok)
    return _json(body, gzipped)


def _multipart(parts: list[bytes], transfer_syntax_uid: str) -> Response:
    boundary = uuid.uuid4().hex
    part_type = f"application/octet-stream; transfer-syntax={transfer_syntax_uid}"
    pieces = []
    for part in parts:
        pieces += [f"--{boundary}\r\nContent-Type: {part_type}\r\nContent-Length: {len(part)}\r\n\r\n".encode(), part, b"\r\n"]
    pieces.append(f"--{boundary}--\r\n".encode())
    media = f'multipart/related; type="application/octet-stream"; transfer-syntax={transfer_syntax_uid}; boundary={boundary}'
    return Response(b"".join(pieces), 200, _HEADERS, media)


def _frame_numbers(text: str) -> list[int]:
    numbers = [part.strip() for part in text.split(",")]
    if not numbers or len(numbers) > 10_000 or not all(part.isdigit() and len(part) <= 9 for part in numbers):
        raise DicomwebRefused(400, "frames are 1-based numbers separated by commas")
    return [int(part) for part in numbers]


@_guarded
async def frames(request: Request) -> Response:
    caller = await _caller(request)
    study, series, sop = _uids(request)
    numbers = _frame_numbers(request.path_params["frames"])
    wanted = dicomweb.accepted_transfer_syntax(request.headers.get("accept"))
    found = await run_in_threadpool(dicomweb.frames, current(), caller, study, series, sop, numbers, wanted)
    return _multipart(found.parts, found.transfer_syntax_uid)


@_guarded
async def bulk(request: Request) -> Response:
    caller = await _caller(request)
    study, series, sop = _uids(request)
    found = await run_in_threadpool(dicomweb.bulk_data, current(), caller, study, series, sop, request.path_params["tag"])
    return _multipart(found.parts, found.transfer_syntax_uid)


def _rendered(thumbnail: bool) -> Handler:
    @_guarded
    async def render(request: Request) -> Response:
        caller = await _caller(request)
        study, series, sop = _uids(request)
        frame = _frame_numbers(request.path_params.get("frames", "1"))[0]
        query = request.query_params
        image, media = await run_in_threadpool(
            dicomweb.rendered,
            current(),
            caller,
            study,
            series,
            sop,
            frame,
            request.headers.get("accept"),
            query.get("window"),
            query.get("viewport"),
            thumbnail,
        )
        return Response(image, 200, _HEADERS, media)

    render.__name__ = "thumbnail" if thumbnail else "rendered"
    return render


# --- WADO-URI ---------------------------------------------------------------------------------------------------------
@_guarded
async def wado_uri(request: Request) -> Response:
    caller = await _caller(request)
    parameters = dict(request.query_params)
    ref, image, media = await run_in_threadpool(dicomweb.wado_uri, current(), caller, parameters)
    if ref is None:
        return Response(image, 200, _HEADERS, media)

    async def body() -> AsyncIterator[bytes]:
        file = await run_in_threadpool(dicomweb.open_file, current(), ref)
        try:
            while chunk := await run_in_threadpool(file.read, _CHUNK):
                yield chunk
        finally:
            file.close()

    return StreamingResponse(body(), 200, {**_HEADERS, "Content-Length": str(ref.size)}, "application/dicom")


# --- a §2.6 image link's DICOMweb root --------------------------------------------------------------------------------
@_guarded
async def link_root(request: Request) -> Response:
    """{"root": URL, "expiresAt": seconds}: the read-only DICOMweb root of the exam an image link's token grants."""
    token = request.query_params.get("t") or ""
    root, expires_at = await run_in_threadpool(dicomweb.link_root, current(), token, _client(request))
    return Response(f'{{"root":"{root}","expiresAt":{expires_at}}}', 200, _HEADERS, "application/json")


# --- STOW-RS ----------------------------------------------------------------------------------------------------------
@_guarded
async def stow(request: Request) -> Response:
    caller = await _caller(request)
    if caller.read_only:
        raise DicomwebRefused(403, "this root is read-only (此链接只读)")
    media, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media != b"multipart/related" or not boundary:
        raise DicomwebRefused(415, 'STOW-RS takes multipart/related; type="application/dicom" with a boundary')
    runtime = current()
    limit = runtime.settings.max_file_bytes
    parts: list[SpoolWriter | None] = []
    state: dict[str, Any] = {"writer": None, "header": b"", "headers": {}, "dicom": False}

    def on_part_begin() -> None:
        if len(parts) >= MAX_STOW_PARTS:
            raise DicomwebRefused(413, f"more than {MAX_STOW_PARTS} parts")
        state["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = state.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = state.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        state["headers"][state.pop("field", b"").lower()] = state.pop("value", b"")

    def on_headers_finished() -> None:
        part_type = state["headers"].get(b"content-type", b"application/dicom").split(b";")[0].strip().lower()
        writer = open_upload_spool(runtime.store) if part_type == b"application/dicom" else None
        state["writer"] = writer
        parts.append(writer)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        writer = state["writer"]
        if writer is not None:
            writer.write(data[start:end])
            if writer.size > limit:
                raise DicomwebRefused(413, f"an instance exceeds {limit} bytes")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as error:
        for writer in parts:
            if writer is not None:
                writer.discard()  # not finished: removed
        if isinstance(error, MultipartParseError | ClientDisconnect):
            raise DicomwebRefused(400, f"multipart body unreadable ({type(error).__name__})") from None
        raise
    spooled = [writer.finish(keep=True) if writer is not None else None for writer in parts]
    # the service ingests each part, and removes from the spool whatever it did not store
    result = await run_in_threadpool(dicomweb.store, runtime, caller, request.path_params.get("study"), spooled)
    return Response(result.body, result.status, _HEADERS, DICOM_JSON)


# --- routes -----------------------------------------------------------------------------------------------------------
_INSTANCE = "/studies/{study}/series/{series}/instances/{sop}"
_RELATIVE: tuple[tuple[str, Handler, list[str]], ...] = (
    ("/studies", _search("study"), ["GET"]),
    ("/studies", stow, ["POST"]),
    ("/series", _search("series"), ["GET"]),
    ("/instances", _search("instance"), ["GET"]),
    ("/studies/{study}", retrieve, ["GET"]),
    ("/studies/{study}", stow, ["POST"]),
    ("/studies/{study}/metadata", metadata, ["GET"]),
    ("/studies/{study}/series", _search("series"), ["GET"]),
    ("/studies/{study}/instances", _search("instance"), ["GET"]),
    ("/studies/{study}/series/{series}", retrieve, ["GET"]),
    ("/studies/{study}/series/{series}/metadata", metadata, ["GET"]),
    ("/studies/{study}/series/{series}/instances", _search("instance"), ["GET"]),
    (_INSTANCE, retrieve, ["GET"]),
    (_INSTANCE + "/metadata", metadata, ["GET"]),
    (_INSTANCE + "/frames/{frames}", frames, ["GET"]),
    (_INSTANCE + "/frames/{frames}/rendered", _rendered(False), ["GET"]),
    (_INSTANCE + "/rendered", _rendered(False), ["GET"]),
    (_INSTANCE + "/thumbnail", _rendered(True), ["GET"]),
    (_INSTANCE + "/bulk/{tag}", bulk, ["GET"]),
    ("/wado", wado_uri, ["GET"]),
)
ROUTES: tuple[tuple[str, Handler, list[str]], ...] = (
    ("/wado", wado_uri, ["GET"]),
    (f"{dicomweb.ROOT}/link", link_root, ["GET"]),
    *[(dicomweb.ROOT + path, handler, methods) for path, handler, methods in _RELATIVE if path != "/wado"],
    *[(dicomweb.ROOT + "/t/{token}" + path, handler, methods) for path, handler, methods in _RELATIVE],
)
"""(path, handler, methods): the institution's root (HTTP Basic) and a link's read-only root (its token)."""
