"""HTTP entry points of the report and image pages (§2.6's examRpotLinkUrl and imgInfoLinkUrl) and what they load.

Thin: read the query, call `mie.service.pages`, answer HTML (Jinja2, autoescaped), a PDF streamed from its
file, or a PNG. These are pages for a browser, not transactions: a refusal is a page in Chinese, never the
JSON envelope, never a stack trace. Nothing is loaded from outside this processor (the medical-insurance
network has no internet): styles and scripts are inline, the PDF and the images are served here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import BinaryIO

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from mie.runtime import current
from mie.service import pages, viewer
from mie.service.links import light_image_url
from mie.service.pages import PageRefused

log = logging.getLogger("mie.pages")

MAX_FRAME = 100_000
# Inline styles and scripts only, everything else from this processor; the PDF may be framed by our own page;
# the image page shows the rendered PNGs it fetched as blob: URLs (it reads their window and status).
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the address
}
_NO_STORE = {"Cache-Control": "no-store"}
# Rendered images: the URL holds the token, the instance and the window, so the same URL is the same picture;
# private (patient data, no shared proxy may keep it) and short (the token expires).
_IMAGE_CACHE = {"Cache-Control": "private, max-age=600"}


@functools.cache
def _templates() -> Environment:
    environment = Environment(loader=PackageLoader("mie.web", "templates"), autoescape=select_autoescape(["html"]))
    # the processor's local time: the doctors' (UTC+8 in the province)
    environment.filters["timestamp"] = lambda seconds: datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")
    return environment


def _html(template: str, status: int = 200, **values: object) -> HTMLResponse:
    body = _templates().get_template(template).render(**values)
    return HTMLResponse(body, status_code=status, headers={**_SECURITY_HEADERS, **_NO_STORE})


def _refusal(refused: PageRefused) -> HTMLResponse:
    return _html("refused.html", status=refused.status, reason=refused.reason)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A refusal becomes its page; anything unexpected a plain page too, logged, never a trace to the browser."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except PageRefused as refused:
            return _refusal(refused)
        except Exception:
            log.exception("page %s failed", request.url.path)
            return _refusal(PageRefused(500, "服务器内部错误，请稍后再试"))

    return guarded


def _token(request: Request) -> str:
    token = request.query_params.get("t")
    if not token:
        raise PageRefused(403, "链接不完整：缺少访问令牌")
    return token


def _integer(request: Request, name: str, default: int | None = None, top: int | None = None) -> int:
    text = request.query_params.get(name)
    if text is None and default is not None:
        return default
    if text is None or not text.isdigit() or (top is not None and int(text) > top):
        raise PageRefused(400, f"参数 {name} 无效")
    return int(text)


@_guarded
async def report_view(request: Request) -> Response:
    runtime = current()
    page = await run_in_threadpool(pages.report_page, runtime, _token(request), _client(request))
    images = f"../image/view?t={page.image_token}"
    return _html("report.html", page=page, shown=page.reports[0] if page.reports else None, images=images)


@_guarded
async def report_pdf(request: Request) -> Response:
    runtime = current()
    report_id = _integer(request, "id", top=2**31 - 1)  # an integer column on every database
    stored = await run_in_threadpool(pages.report_pdf, runtime, _token(request), report_id, _client(request))
    headers = {
        **_NO_STORE,
        "X-Content-Type-Options": "nosniff",
        "Content-Length": str(stored.size),
        "Content-Disposition": f'inline; filename="report-{report_id}.pdf"',
    }
    # read a piece at a time wherever the storage area keeps it (a local file or an object)
    return StreamingResponse(iterate_in_threadpool(_pieces(stored)), media_type="application/pdf", headers=headers)


def _pieces(stored: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    try:
        while piece := stored.read(size):
            yield piece
    finally:
        stored.close()


@_guarded
async def image_view(request: Request) -> Response:
    """The image link: OHIF when it is installed and the exam has images (a browser without WebGL 2 goes on to the
    light page), the light page otherwise."""
    runtime = current()
    if viewer.installed(runtime.settings) is not None:
        token = _token(request)
        address = await run_in_threadpool(viewer.viewer_address, runtime, token, _client(request))
        if address is not None:
            light = light_image_url(runtime.settings.effective_public_url, token)
            return _html("viewer.html", viewer=address, light=light)
    return await image_light(request)


@_guarded
async def image_light(request: Request) -> Response:
    """The light image page (server-rendered slices), at the image link's token as well."""
    runtime = current()
    page = await run_in_threadpool(pages.image_page, runtime, _token(request), _client(request))
    series = [
        {
            "uid": view.series_uid,
            "label": " ".join(part for part in (view.number and f"#{view.number}", view.modality, view.description) if part),
            "modality": view.modality,
            "not_shown": view.not_shown,
            "slices": [[piece.sop_instance_uid, piece.frame, piece.instance_number] for piece in view.slices],
        }
        for view in page.series
    ]
    return _html("image.html", page=page, series=series)


@_guarded
async def image_render(request: Request) -> Response:
    runtime = current()
    sop = request.query_params.get("sop") or ""
    frame = _integer(request, "frame", default=0, top=MAX_FRAME)
    preset = request.query_params.get("preset") or "auto"
    center, width = request.query_params.get("wc"), request.query_params.get("ww")
    rendered = await run_in_threadpool(
        pages.image_png, runtime, _token(request), sop, frame, preset, _client(request), center, width
    )
    headers = {**_IMAGE_CACHE, "X-Content-Type-Options": "nosniff"}
    if rendered.window is not None:  # what the page's overlay shows, and where a drag starts from
        headers["X-Window-Center"] = f"{rendered.window.center:.10g}"
        headers["X-Window-Width"] = f"{rendered.window.width:.10g}"
    return Response(rendered.png, media_type="image/png", headers=headers)


ROUTES: tuple[tuple[str, Callable[[Request], Awaitable[Response]]], ...] = (
    ("/mie/report/view", report_view),
    ("/mie/report/pdf", report_pdf),
    ("/mie/image/view", image_view),
    ("/mie/image/light", image_light),
    ("/mie/image/render", image_render),
)
