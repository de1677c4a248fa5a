"""The ceiling for Python here: bare Starlette endpoints under uvicorn (same defaults as `mie serve`: uvloop and
httptools when installed), doing a transaction's bare work and nothing else.

- §2.1 (bench/http_save_exam.py): parses the JSON body and answers a small JSON document.
- §2.8 (bench/fetch_one.py): parses the JSON body, reads the file named by MIE_BENCH_FILE whole, encodes it with
  pybase64 and answers it in the envelope (no access check, no database, no audit).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pybase64
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


async def fetch(request: Request) -> Response:
    body = json.loads(await request.body())
    data = Path(os.environ["MIE_BENCH_FILE"]).read_bytes()
    head = {"code": 0, "type": "success", "message": "成功"}
    head["data"] = {"hiImgIndx": body["input"]["hiImgIndx"]}
    prefix = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-2].encode() + b',"fileContent":"'
    return Response(prefix + pybase64.b64encode(data) + b'"}}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/mie/api/mie/saveExamRpotImgInfo", save, methods=["POST"]),
        Route("/mie/api/mie/queryImgCaheFIndex", fetch, methods=["POST"]),
    ]
)
