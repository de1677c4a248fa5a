"""The input of each JSON transaction, checked as the processor checks it from the message alone.

One function per transaction's record (`check_record` picks it): the spec's fields, and the rules that span several
fields or choose a table (the hiImgIndx of a §2.1 record against the record, §1.2; §2.5's bare index; §2.6's date
range; §2.7/§2.8's serviceName). The processor, `mie validate` and `mie proxy --strict` all call these, so the three
give one verdict; only what needs the database (an institution, its key, an exam's owner) is the processor's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mie.contract.index import IndexError_
from mie.contract.spec import Contract, Transaction
from mie.contract.validation import FieldError, Outcome, Validator

SAVE_EXAM = "saveExamRpotImgInfo"
DELETE_EXAM = "deleteExamRpotImgIdxInfo"
QUERY_INDEX = "queryExamRpotImgIndxListFHospital"
QUERY_IMAGES = "queryImgCaheFIndex"


def index_field_error(contract: Contract, detail: str, rule: str = "index") -> FieldError:
    """A finding on the hiImgIndx field of a §2.1 record."""
    schema = contract.component("ExamRpotImgInfo")["properties"]["hiImgIndx"]
    return FieldError("hiImgIndx", "hiImgIndx", schema["title"], f"#{schema['x-seq']}", rule, detail)


def _day(moment: datetime) -> str:
    """strftime("%Y-%m-%d"), which the C library does not zero-pad before year 1000; isoformat (several times
    faster) for the years it writes alike."""
    return moment.date().isoformat() if moment.year >= 1000 else moment.strftime("%Y-%m-%d")


def check_exam_record(contract: Contract, record: Any) -> Outcome:
    """Validate one §2.1 record: every field by the spec, then the index against the record (§1.2)."""
    outcome = contract.validator("ExamRpotImgInfo").validate(record)
    value = outcome.value
    if not isinstance(value, dict) or any(error.code == "hiImgIndx" for error in outcome.errors):
        return outcome
    index_text = value.get("hiImgIndx")
    if not isinstance(index_text, str):
        return outcome
    try:
        parts = contract.index.parse(index_text)
    except IndexError_ as error:
        outcome.errors.insert(0, index_field_error(contract, str(error)))
        return outcome
    cert_type, certno = value.get("psnCertType"), value.get("certno")
    if isinstance(cert_type, str) and parts.psn_cert_type != cert_type:
        detail = f"第1部分证件类型 '{parts.psn_cert_type}' 与 psnCertType '{cert_type}' 不一致"
        outcome.errors.insert(0, index_field_error(contract, detail))
    if isinstance(certno, str) and parts.certno != certno.upper():
        outcome.errors.insert(0, index_field_error(contract, "第2部分证件号码与 certno 不一致"))
    exam_date = value.get("examDate")
    if isinstance(exam_date, str) and _day(parts.exam_time) != exam_date:
        outcome.notes.append(f"索引第3部分的检查日期 {parts.exam_time:%Y-%m-%d} 与 examDate {exam_date} 不一致")
    return outcome


# --- §2.5 deleteExamRpotImgIdxInfo -------------------------------------------------------------------------------------


def _bare_index_validator(contract: Contract) -> Validator:
    """The index field of §2.5 input, for the bare strings the document's example sends."""

    def build() -> Validator:
        item = contract.component("DeleteExamRpotImgIdxItem")
        schema = {"type": "object", "required": ["hiImgIndx"], "properties": {"hiImgIndx": item["properties"]["hiImgIndx"]}}
        return contract.validator_of(schema)

    return contract.memo("bare-index-validator", build)


def check_delete_item(contract: Contract, item: Any) -> Outcome:
    """An item of §2.5 input: the index itself (as the document's example sends it) or {hiImgIndx: ...}. The
    outcome's value is the index (None when refused)."""
    notes: list[str] = []
    if isinstance(item, dict):
        outcome = contract.validator("DeleteExamRpotImgIdxItem").validate(item)
        if outcome.errors:
            outcome.value = None
            return outcome
        item, notes = outcome.value["hiImgIndx"], outcome.notes
    outcome = _bare_index_validator(contract).validate({"hiImgIndx": item})
    outcome.value = item if not outcome.errors else None
    outcome.notes = list(dict.fromkeys([*notes, *outcome.notes]))
    return outcome


# --- §2.6 queryExamRpotImgIndxListFHospital ---------------------------------------------------------------------------

LAST_DAY = "9999-12-31"  # the open end of §2.6's date range: examDate compares as text


def input_error(contract: Contract, schema_name: str, code: str, rule: str, detail: str, prefix: str = "input") -> FieldError:
    schema = contract.component(schema_name)["properties"][code]
    return FieldError(f"{prefix}.{code}" if prefix else code, code, schema["title"], f"#{schema['x-seq']}", rule, detail)


def check_query_index_input(contract: Contract, value: Any, prefix: str = "input") -> Outcome:
    """§2.6's input: its table, and a range whose start is not after its end (either may be open)."""
    outcome = contract.validator("QueryExamRpotImgIndxListInput").validate(value, prefix)
    checked = outcome.value if isinstance(outcome.value, dict) else {}
    begin, end = checked.get("begntime") or "", checked.get("endtime") or LAST_DAY
    if not outcome.errors and begin > end:
        detail = f"检查开始时间 {begin} 晚于检查结束时间 {end}"
        outcome.errors.append(input_error(contract, "QueryExamRpotImgIndxListInput", "begntime", "range", detail, prefix))
    return outcome


# --- §2.7 and §2.8 queryImgCaheFIndex --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageServices:
    """The two services of §2.7/§2.8's one URL, as a contract's discriminator maps serviceName to input tables."""

    input_schemas: dict[str, str]  # serviceName -> the schema of its input
    list_service: str  # §2.7: queryImgCaheFileSn
    fetch_service: str  # §2.8: queryImgCahe
    download_path: str  # the URL of both, which §2.6's imgDldLink names

    @classmethod
    def of(cls, contract: Contract) -> ImageServices:
        def build() -> ImageServices:
            envelope = contract.document["components"]["schemas"]["QueryImgCaheFIndexRequest"]
            mapping = envelope["properties"]["input"]["discriminator"]["mapping"]
            schemas = {service: reference.rsplit("/", 1)[-1] for service, reference in mapping.items()}
            service_of = {schema: service for service, schema in schemas.items()}
            return cls(
                schemas,
                service_of["QueryImgCaheFileSnInput"],
                service_of["QueryImgCaheInput"],
                contract.transaction(QUERY_IMAGES).path,
            )

        return contract.memo("image-services", build)


def check_images_input(contract: Contract, raw: Any, prefix: str = "input") -> Outcome:
    """The input of §2.7 or §2.8, validated by the table its serviceName names."""
    services = ImageServices.of(contract)
    service = raw.get("serviceName") if isinstance(raw, dict) else None
    schema_name = services.input_schemas.get(service) if isinstance(service, str) else None
    if schema_name is None:
        outcome = Outcome(value=raw, strict=contract.strict)
        listing, fetching = services.list_service, services.fetch_service
        detail = "必填项缺失" if service is None else f"'{service}' 应为 {listing} (§2.7) 或 {fetching} (§2.8)"
        rule = "required" if service is None else "enum"
        outcome.errors.append(input_error(contract, services.input_schemas[listing], "serviceName", rule, detail, prefix))
        return outcome
    return contract.validator(schema_name).validate(raw, prefix)


# --- any transaction -------------------------------------------------------------------------------------------------


def check_record(contract: Contract, transaction: Transaction, record: Any, prefix: str = "") -> Outcome:
    """One record of a JSON transaction's input (its input itself when that is one object, as in §2.6-§2.8), as the
    processor checks it; FieldError paths start with `prefix`."""
    infno = transaction.infno
    if infno == SAVE_EXAM:
        return check_exam_record(contract, record)
    if infno == DELETE_EXAM:
        return check_delete_item(contract, record)
    if infno == QUERY_INDEX:
        return check_query_index_input(contract, record, prefix)
    if infno == QUERY_IMAGES:
        return check_images_input(contract, record, prefix)
    items = transaction.body_schema["properties"]["input"].get("items", {})
    return contract.memo(f"record-validator:{infno}", lambda: contract.validator_of(items)).validate(record, prefix)
