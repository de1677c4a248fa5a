"""HTTP entry points of OHIF Viewer (mie.service.viewer): its files at the root as its build expects them, its page
at /viewer, mie's app-config.js, and each image link's configuration.

Thin: resolve a name or a token through `mie.service.viewer`, answer the file, the script or the JSON. Only the
viewer's page gets the Content-Security-Policy OHIF needs (WebAssembly, workers from blob: URLs); mie's own pages
keep theirs (mie/web/pages.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from mie.runtime import current
from mie.service import viewer
from mie.service.dicomweb import DicomwebRefused
from mie.service.viewer import InstalledViewer

Handler = Callable[[Request], Awaitable[Response]]

# OHIF compiles its codecs from WebAssembly and decodes in workers made from blob: URLs; its index.html has inline
# scripts. Everything else from this processor only, as mie's pages.
_VIEWER_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; "
    "worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self' data: blob:; frame-ancestors 'self'; base-uri 'self'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the configuration's address (with the token) is in the page's
}
_STATIC_CACHE = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _not_found() -> Response:
    return Response("not found (未找到)\n", 404, _NO_STORE, "text/plain; charset=utf-8")


def routes(installed: InstalledViewer) -> list[tuple[str, Handler]]:
    """(path, handler) of the viewer's files, page, script and configuration, for the files `installed` holds."""

    async def page(_request: Request) -> Response:
        return FileResponse(viewer.index_file(installed), media_type="text/html", headers={**_VIEWER_SECURITY, **_NO_STORE})

    async def static(request: Request) -> Response:
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "").lower()
        found = viewer.static_file(installed, request.url.path.lstrip("/"), gzip_ok)
        if found is None:
            return _not_found()
        headers = {**_STATIC_CACHE, "Vary": "Accept-Encoding", **({"Content-Encoding": "gzip"} if found.gzipped else {})}
        return FileResponse(found.path, media_type=found.media_type, headers=headers)

    async def app_config(_request: Request) -> Response:
        return Response(viewer.app_config(), 200, _NO_STORE, "text/javascript")

    async def link_config(request: Request) -> Response:
        try:
            config = await run_in_threadpool(viewer.link_config, current(), request.path_params["token"], _client(request))
        except DicomwebRefused as refused:
            return Response(refused.reason + "\n", refused.status, _NO_STORE, "text/plain; charset=utf-8")
        return Response(json.dumps(config), 200, _NO_STORE, "application/json")

    found: list[tuple[str, Handler]] = [
        (viewer.VIEWER_PATH, page),
        (viewer.VIEWER_PATH + "/{rest:path}", page),
        ("/app-config.js", app_config),
        (viewer.CONFIG_PATH + "/{token}", link_config),
    ]
    found += [(f"/{name}", static) for name in sorted(installed.files)]
    found += [(f"/{name}/{{rest:path}}", static) for name in sorted(installed.folders)]
    return found
