"""What the retrieval tests share: the document's querying institution, its address, and messages of §2.6-§2.8."""

from __future__ import annotations

import base64
from typing import Any

from openapi_schema_validator import OAS30Validator
from pydantic import BaseModel
from pydicom.uid import generate_uid
from starlette.testclient import TestClient

from mie.client import MieClient
from mie.contract import current
from mie.runtime import Runtime
from mie.service.institutions import add_institution, allow_sources
from mie.web.app import create_app
from tests.conftest import document_example, exam_record, new_index

CONTRACT = current()

QUERY_INDEX = "/mie/api/mie/queryExamRpotImgIndxListFHospital"
QUERY_IMAGES = "/mie/api/mie/queryImgCaheFIndex"
QUERIER = "123456789012"  # the document's §2.6-§2.8 examples' fixmedinsCode (and msgid prefix)
QUERIER_KEY = "query-key-of-123456789012"
ALLOWED = "10.20.30.40"  # in the querier's allow-list (10.20.30.0/24)
ELSEWHERE = "192.0.2.7"  # in no allow-list


def register_querier(runtime: Runtime) -> None:
    add_institution(runtime.database, QUERIER, QUERIER_KEY, name="查询方医院")
    allow_sources(runtime.database, QUERIER, ["10.20.30.0/24"])


def client_at(runtime: Runtime, address: str) -> TestClient:
    """A client whose requests come from `address` (as the server sees it)."""
    return TestClient(create_app(runtime), raise_server_exceptions=False, client=(address, 50000))


def querier_at(runtime: Runtime, address: str) -> MieClient:
    """mie.client for the document's querier, its requests coming from `address`, sent as the document's examples
    are: without a key (the address admits it, ERRATA E-QUERY-KEY)."""
    return MieClient(institution=QUERIER, http=client_at(runtime, address))


def as_received(answer: BaseModel) -> Any:
    """A parsed answer as the JSON it came in: every field it had, explicit nulls included, none it had not."""
    return answer.model_dump(mode="json", by_alias=True, exclude_unset=True)


def person_record(certno: str = "110101197804050041", psn_cert_type: str = "111", **changes: Any) -> dict[str, Any]:
    """A §2.1 record of one person, with an index of its own and a study UID of its own."""
    record = exam_record(psnCertType=psn_cert_type, certno=certno, studyUid=generate_uid(), **changes)
    record["hiImgIndx"] = new_index({"psnCertType": psn_cert_type, "certno": certno.upper()})
    return record


def index_query(**input_changes: Any) -> dict[str, Any]:
    """The document's §2.6 request (as the spec keeps it) with `input_changes`; a None value removes the field."""
    message = document_example(QUERY_INDEX)
    for name, value in input_changes.items():
        if value is None:
            message["input"].pop(name, None)
        else:
            message["input"][name] = value
    return message


def list_query(hi_img_indx: str) -> dict[str, Any]:
    message = document_example(QUERY_IMAGES, "queryImgCaheFileSn")
    message["input"]["hiImgIndx"] = hi_img_indx
    return message


def fetch_query(hi_img_indx: str, file_sn: dict[str, str]) -> dict[str, Any]:
    message = document_example(QUERY_IMAGES, "queryImgCahe")
    message["input"]["hiImgIndx"] = hi_img_indx
    message["input"]["imgFileSn"] = dict(file_sn)
    return message


def schema_errors(component_name: str, answer: Any) -> list[str]:
    """What is wrong with `answer` by the spec's response schema (openapi-schema-validator)."""
    schema = {**CONTRACT.resolved["components"]["schemas"][component_name], "components": CONTRACT.resolved["components"]}
    return [error.message for error in OAS30Validator(schema).iter_errors(answer)]


def file_content(answer: dict[str, Any]) -> bytes:
    return base64.b64decode(answer["data"]["fileContent"], validate=True)
