"""The HTTP entry point: connexion routes and validates from spec/openapi.yaml; every answer is in the envelope."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from connexion import AsyncApp, ConnexionMiddleware
from connexion.datastructures import MediaTypeDict
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.options import SwaggerUIOptions
from connexion.validators import VALIDATOR_MAP
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from generated.models import ResponseCode
from mie.contract import Contract
from mie.runtime import Runtime, set_runtime
from mie.service import viewer as viewer_service
from mie.service.answers import Answer, MieError, entry
from mie.web import dicomweb, pages, viewer
from mie.web.queries import LeanTransactions
from mie.web.uploads import StreamingUploads
from mie.web.validators import EnvelopeJSONValidator, HeadersLeftToTheTransaction, StreamingMultipartValidator

log = logging.getLogger("mie.http")

JSONIFIER = Jsonifier(json, ensure_ascii=False)

# HTTP statuses connexion or Starlette raise by themselves, and the catalogue code each becomes.
_STATUS_CODES = {
    400: ResponseCode.envelope_invalid,
    404: ResponseCode.not_found,
    405: ResponseCode.method_not_allowed,
    413: ResponseCode.payload_too_large,
    415: ResponseCode.unsupported_media_type,
    501: ResponseCode.not_implemented,
}


def envelope_response(answer: Answer, headers: dict[str, str] | None = None) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=answer.http_status,
        mimetype="application/json",
        content_type="application/json; charset=utf-8",
        body=JSONIFIER.dumps(answer.body).encode("utf-8"),
        headers=headers or {},
    )


def _refused(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    assert isinstance(error, MieError)
    log.info("refused: %s", error.message)
    return envelope_response(error.answer())


def _http_problem(request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    status = getattr(error, "status_code", None) or getattr(error, "status", 500)
    code = _STATUS_CODES.get(status, ResponseCode.internal_error)
    detail = getattr(error, "detail", None)
    if not isinstance(detail, str) or detail == entry(code).name:
        detail = None
    elif status == 400 and request.headers.get("content-type", "").lower().startswith("multipart/"):
        # Starlette's form parse refuses in English ("Missing boundary in multipart.", "Too many files. ...")
        detail = f"multipart 表单无法解析 ({detail[:200]})"
    elif detail is not None and len(detail) > 300:
        detail = detail[:297] + "..."  # a message never echoes a hostile value whole
    answer = MieError(code, detail).answer()
    answer.http_status = status if code is not ResponseCode.internal_error else 500
    # Starlette's 405 carries the route's methods in `Allow` (RFC 9110 §15.5.6 requires it): keep it.
    headers = {name: value for name, value in (getattr(error, "headers", None) or {}).items() if name.lower() == "allow"}
    return envelope_response(answer, headers)


def _unexpected(_request: ConnexionRequest, error: Exception) -> ConnexionResponse:
    if isinstance(error, OperationalError):
        log.error("database unavailable: %s", error.__class__.__name__)
        return envelope_response(MieError(ResponseCode.unavailable).answer())
    log.exception("unexpected error", exc_info=error)
    return envelope_response(MieError(ResponseCode.internal_error).answer())


def served_spec(contract: Contract) -> dict[str, Any]:
    spec = copy.deepcopy(contract.document)
    spec.pop("servers", None)  # connexion fills in the address it is reached at
    return spec


# connexion's stack without what mie does not use: the spec declares no security schemes (the key is checked by
# the transaction) and responses are not validated. Each layer left out is one routing lookup fewer per request.
# The file uploads (§2.2, §2.4), §2.1's records and the queries (§2.6, §2.7, §2.8) are taken just inside the
# exception middleware, whose handlers answer their refusals (mie.web.uploads, mie.web.queries).
_KEPT = [m for m in ConnexionMiddleware.default_middlewares if m not in (SecurityMiddleware, ResponseValidationMiddleware)]
_INSIDE = _KEPT.index(ExceptionMiddleware) + 1
MIDDLEWARES = [*_KEPT[:_INSIDE], LeanTransactions, StreamingUploads, *_KEPT[_INSIDE:]]


def create_app(runtime: Runtime) -> AsyncApp:
    set_runtime(runtime)
    EnvelopeJSONValidator.max_body_bytes = runtime.settings.max_body_bytes
    EnvelopeJSONValidator.contract = runtime.contract
    StreamingMultipartValidator.max_body_bytes = runtime.settings.max_file_bytes
    app = AsyncApp(__name__, jsonifier=JSONIFIER, middlewares=MIDDLEWARES)
    validators = {"*/*json": EnvelopeJSONValidator, "multipart/form-data": StreamingMultipartValidator}
    validator_map = {
        "parameter": HeadersLeftToTheTransaction,
        "body": MediaTypeDict({**VALIDATOR_MAP["body"], **validators}),
    }
    app.add_api(
        served_spec(runtime.contract),
        validator_map=validator_map,
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs", spec_path="/openapi.json"),
        strict_validation=False,
        validate_responses=False,
    )
    # The pages §2.6's links open: HTML for a browser, outside the spec's transactions (mie/web/pages.py).
    for path, handler in pages.ROUTES:
        app.add_url_rule(path, endpoint=handler.__name__, view_func=handler, methods=["GET"])
    # DICOMweb at /dicom-web (and WADO-URI at /wado): mie/web/dicomweb.py
    for path, handler, methods in dicomweb.ROUTES:
        app.add_url_rule(path, endpoint=f"{handler.__name__}:{path}", view_func=handler, methods=methods)
    # OHIF Viewer, when installed (mie/web/viewer.py): its files at the root, where its build looks for them
    installed = viewer_service.installed(runtime.settings)
    for path, handler in viewer.routes(installed) if installed is not None else ():
        app.add_url_rule(path, endpoint=f"viewer:{path}", view_func=handler, methods=["GET"])
    app.add_error_handler(MieError, _refused)
    for status in (400, 404, 405, 413, 415, 501):
        app.add_error_handler(status, _http_problem)
    app.add_error_handler(HTTPException, _http_problem)
    app.add_error_handler(Exception, _unexpected)
    return app
