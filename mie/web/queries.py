"""§2.1 saveExamRpotImgInfo, §2.6 queryExamRpotImgIndxListFHospital, §2.7 and §2.8 queryImgCaheFIndex: a JSON POST
taken ahead of connexion's routing and validation layers, with one hop to a worker thread for the whole transaction.

Through connexion a request crossed its routing, security-less validation and context layers, was parsed and its
envelope validated in one (EnvelopeJSONValidator), then (the queries) validated again by the transaction, and
§2.8's answer went back through a StreamingResponse with a hop to a worker thread for each piece of the file. Here
an ASGI layer placed just inside connexion's exception middleware (beside mie.web.uploads) takes POSTs of these
paths whose Content-Type is application/json (anything else goes on to connexion, which answers it as before). It
reads the body as the validator does (the same size limits, `decode_body` and strict `parse_json` of the
contract), checks the envelope once with the same compiled validator (`check_envelope`), and hands the checked
envelope to the same service (`exams.save_exam_records`, `retrieval.query_index`, `retrieval.query_images`), all
in one hop; §2.1's records are each checked by the service as before (`mie.contract.records`), and its answer
sent after the message's commit. A §2.8 file that fits
(`ImageStream.fits_whole`) is read and encoded in that hop too and sent as one body with its Content-Length. A
larger file streams, one hop per piece (`retrieval.PIECE_BYTES`). Every refusal (MieError, HTTPException, anything
unexpected) is raised to the exception middleware, whose handlers answer it in the spec's envelope exactly as for
any other route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mie import runtime
from mie.service import exams, retrieval
from mie.service.answers import Answer
from mie.service.envelope import check_envelope
from mie.web.uploads import current_jsonifier
from mie.web.validators import EnvelopeJSONValidator, read_json, read_json_bytes

JSON_TYPE = "application/json; charset=utf-8"


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


def image_path() -> str:
    return retrieval.ImageServices.of(runtime.current().contract).download_path


def answer_index(body: Any, source_address: str | None, checked: Any = None) -> Answer:
    """§2.6 on a worker thread, its envelope checked here unless `checked` (as `answer_images`)."""
    current = runtime.current()
    if checked is None:
        checked = check_envelope(current.contract, current.contract.transaction(retrieval.QUERY_INDEX).body_schema, body)
    return retrieval.query_index(retrieval.Retrieval.of(current), body, source_address, checked)


SAVE_EXAM = "saveExamRpotImgInfo"


def answer_save_exam(body: Any, _source_address: str | None) -> Answer:
    """§2.1 on a worker thread: the envelope checked here, each record by the service, the answer once committed."""
    current = runtime.current()
    checked = check_envelope(current.contract, current.contract.transaction(SAVE_EXAM).body_schema, body)
    return exams.save_exam_records(current.contract, current.database, body, checked)


def _taken_paths() -> dict[str, Callable[[Any, str | None], Answer | retrieval.ImageStream | bytes]]:
    """The paths this layer takes, each with its transaction."""
    contract = runtime.current().contract
    return contract.memo(
        "lean-query-paths",
        lambda: {
            contract.transaction(SAVE_EXAM).path: answer_save_exam,
            contract.transaction(retrieval.QUERY_INDEX).path: answer_index,
            image_path(): answer_images,
        },
    )


def answer_images(body: Any, source_address: str | None, checked: Any = None) -> Answer | retrieval.ImageStream | bytes:
    """The transaction, on a worker thread: its Answer, or §2.8's whole body when the file fits, or its stream.
    `checked` is the outcome of `check_envelope` on this body when the caller has checked it; else it is checked
    here, before the transaction (a body whose envelope is refused is not the transaction's, nor its audit's)."""
    current = runtime.current()
    if checked is None:
        checked = check_envelope(current.contract, current.contract.transaction(retrieval.QUERY_IMAGES).body_schema, body)
    answer = retrieval.query_images(retrieval.Retrieval.of(current), body, source_address, checked)
    if isinstance(answer, retrieval.ImageStream) and answer.fits_whole:
        return answer.whole()
    return answer


def image_response(answer: retrieval.ImageStream) -> StreamingResponse:
    """A stream too large for one body: sent as it is read and encoded; the length is known before the first byte."""
    return StreamingResponse(
        _pieces(answer.chunks()), media_type=JSON_TYPE, headers={"Content-Length": str(answer.content_length)}
    )


async def _pieces(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each piece read and encoded on a worker thread. When the client goes away, Starlette cancels the stream
    here (after the piece in hand: a worker thread is not interrupted); closing the generator then, rather than
    whenever it is garbage-collected, lets go of the file and records the fetch's audit event at once."""
    try:
        while (piece := await run_in_threadpool(next, chunks, None)) is not None:
            yield piece
    finally:
        chunks.close()


class LeanTransactions:
    """The ASGI layer that takes §2.1, §2.6 and §2.7/§2.8 JSON POSTs (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in _taken_paths() and _is_json(scope):
            await self._query(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _query(self, scope: Scope, receive: Receive, send: Send) -> None:
        transaction = _taken_paths()[scope["path"]]
        headers = Headers(scope=scope)
        raw = await read_json_bytes(headers, receive, EnvelopeJSONValidator.max_body_bytes)
        client = scope.get("client")
        source_address = client[0] if client else None
        answer = await run_in_threadpool(_transaction, transaction, raw, headers.get("content-type", ""), source_address)
        if isinstance(answer, retrieval.ImageStream):
            await image_response(answer)(scope, receive, send)
            return
        if isinstance(answer, Answer):
            status, body, content_type = answer.http_status, _json_bytes(answer.body), b"application/json"
        else:
            status, body, content_type = 200, answer, JSON_TYPE.encode("ascii")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode("ascii"))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _transaction(
    transaction: Callable[[Any, str | None], Answer | retrieval.ImageStream | bytes],
    raw: bytes,
    content_type: str,
    source_address: str | None,
) -> Answer | retrieval.ImageStream | bytes:
    answer = transaction(read_json(raw, content_type), source_address)
    if transaction is answer_index and isinstance(answer, Answer) and answer.http_status == 200:
        # §2.6's records and links written by orjson: a twentieth of the time of connexion's encoder for ten
        # records; the same JSON as connexion's answer, without its spaces after ',' and ':'
        return orjson.dumps(answer.body) + b"\n"
    return answer


def _json_bytes(body: Any) -> bytes:
    return current_jsonifier().dumps(body).encode("utf-8")  # connexion's answers are written by the same encoder
