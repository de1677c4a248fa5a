"""The ceiling for Python here: a bare Starlette endpoint that only parses the JSON body and answers a
small JSON document. Run by bench/http_save_exam.py under uvicorn (same defaults as `mie serve`: uvloop
and httptools when installed, one process)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def save(request: Request) -> JSONResponse:
    body = await request.json()
    record = body["input"][0]
    return JSONResponse(
        {
            "code": 0,
            "type": "success",
            "message": "成功",
            "data": [{"hiImgIndx": record["hiImgIndx"], "succFlag": "1", "message": "保存数据成功"}],
        }
    )


app = Starlette(routes=[Route("/mie/api/mie/saveExamRpotImgInfo", save, methods=["POST"])])
