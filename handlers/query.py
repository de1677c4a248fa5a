"""§2.6 queryExamRpotImgIndxListFHospital, §2.7/§2.8 queryImgCaheFIndex (mie.service.retrieval).

§2.6 and §2.7/§2.8 with a JSON body are taken before connexion's routing by mie.web.queries; these handlers answer
what reaches connexion all the same, through the same functions."""

from __future__ import annotations

from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from handlers.common import reply
from mie.service import retrieval
from mie.web.queries import JSON_TYPE, answer_images, answer_index, image_response
from mie.web.validators import checked_body


def _source_address() -> str | None:
    """The client's address as the server saw it (the access rules of queries and the audit use it)."""
    client = request.client
    return client.host if client is not None else None


async def query_exam_rpot_img_indx_list_f_hospital(body: Any) -> tuple[dict[str, Any], int]:
    checked = checked_body(request.scope)
    return reply(await run_in_threadpool(answer_index, body, _source_address(), checked.outcome if checked else None))


async def query_img_cahe_f_index(body: Any) -> tuple[dict[str, Any], int] | Response:
    checked = checked_body(request.scope)
    answer = await run_in_threadpool(answer_images, body, _source_address(), checked.outcome if checked else None)
    if isinstance(answer, retrieval.ImageStream):
        return image_response(answer)
    if isinstance(answer, bytes):
        return Response(answer, media_type=JSON_TYPE)
    return reply(answer)
