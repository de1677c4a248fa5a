"""What every handler does with a service's answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from mie import runtime
from mie.service.answers import Answer
from mie.service.uploads import UploadedFile
from mie.store.database import Database
from mie.store.files import FileStore

FileService = Callable[[Database, FileStore, dict[str, str], dict[str, Any], UploadedFile | None, int], Answer]


def reply(answer: Answer) -> tuple[dict[str, Any], int]:
    return answer.body, answer.http_status


def form_fields(body: Any) -> dict[str, Any]:
    """The text fields of a parsed multipart form (a field sent twice keeps its first value)."""
    if not isinstance(body, dict):
        return {}
    fields: dict[str, Any] = {}
    for name, value in body.items():
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str):
            fields[name] = first
    return fields


async def upload_reply(service: FileService, body: Any, upload: Any) -> tuple[dict[str, Any], int]:
    """A multipart upload: headers, text fields and the spooled file part go to the service, off the event loop."""
    current = runtime.current()
    answer = await run_in_threadpool(
        service,
        current.database,
        current.store,
        dict(request.headers),
        form_fields(body),
        upload.file if isinstance(upload, UploadFile) else None,
        current.settings.max_file_bytes,
    )
    return reply(answer)
