"""§2.6 queryExamRpotImgIndxListFHospital, §2.7/§2.8 queryImgCaheFIndex (mie.service.retrieval)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from handlers.common import reply
from mie import runtime
from mie.service import retrieval


def _source_address() -> str | None:
    """The client's address as the server saw it (the access rules of queries and the audit use it)."""
    client = request.client
    return client.host if client is not None else None


def query_exam_rpot_img_indx_list_f_hospital(body: Any) -> tuple[dict[str, Any], int]:
    return reply(retrieval.query_index(retrieval.Retrieval.of(runtime.current()), body, _source_address()))


def query_img_cahe_f_index(body: Any) -> tuple[dict[str, Any], int] | StreamingResponse:
    answer = retrieval.query_images(retrieval.Retrieval.of(runtime.current()), body, _source_address())
    if isinstance(answer, retrieval.ImageStream):
        # §2.8: sent as it is read and encoded; the length is known before the first byte.
        return StreamingResponse(
            _pieces(answer.chunks()),
            media_type="application/json; charset=utf-8",
            headers={"Content-Length": str(answer.content_length)},
        )
    return reply(answer)


async def _pieces(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each piece read and encoded on a worker thread. When the client goes away, Starlette cancels the stream
    here (after the piece in hand: a worker thread is not interrupted); closing the generator then, rather than
    whenever it is garbage-collected, lets go of the file and writes the fetch's audit event at once."""
    try:
        while (piece := await run_in_threadpool(next, chunks, None)) is not None:
            yield piece
    finally:
        chunks.close()
