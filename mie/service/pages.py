"""The report and image pages that §2.6's links open (examRpotLinkUrl, imgInfoLinkUrl), and what they load.

Every request carries the link's token (`mie.service.links`): the token names the page, the exam and the
institution that queried. Each sub-resource (a report PDF, a rendered image) is authorised by the same token
and must belong to the exam the token grants; a token that is altered, expired, or whose exam was deleted
(§2.5) is refused with a reason the page says in Chinese. Every view and every refusal is audited
(`runtime.audit`), and so is each report PDF sent; the rendered images a page loads are audited only when
refused (the page view records how many instances it listed).
Files are read only through the store, from paths held in the database rows, never from request input.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any, NoReturn

import pydicom
from pydicom.errors import InvalidDicomError

from mie.contract import Contract
from mie.contract.index import IndexError_
from mie.runtime import Runtime
from mie.service.audit import Access, AccessEvent, masked_certno
from mie.service.links import LinkRefused, Page, PageGrant
from mie.service.part10 import integer_string
from mie.service.render import CT_PRESETS, Preset, Rendered, RenderError, WindowRefused, asked_window, render
from mie.store.files import StorageUnavailable, StoredFile
from mie.store.repository import ExamInstance, StoredExam, StoredReport

log = logging.getLogger("mie.pages")

UNKNOWN_INSTITUTION = "-"  # the audit's institution for a token that could not be read

# The report page's sections: which §2.1 fields each shows, in this order. Labels are the spec's titles. The
# findings and the diagnosis come first, above the PDF; who the patient is and how the exam was made after it.
REPORT_FINDINGS: tuple[str, tuple[str, ...]] = ("诊断报告", ("imgDscr", "diagRslt", "examRsltCode", "rpotAdv", "rpotCritVal"))
REPORT_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    REPORT_FINDINGS,
    ("患者", ("psnName", "psnCertType", "certno", "gend", "age", "brdy", "patnId", "optNo", "iptNo")),
    (
        "检查",
        (
            "fixmedinsName",
            "fixmedinsCode",
            "hospLv",
            "examDate",
            "imgExamType",
            "imgExamItem",
            "examItemCode",
            "examPart",
            "examWay",
            "examDeptName",
            "examDrName",
            "examTecnName",
            "devName",
            "accessionNumber",
            "appyDeptName",
            "bilgDrName",
            "clncDiag",
        ),
    ),
    (
        "医师与日期",
        (
            "rpotNo",
            "rpotDrName",
            "rptDate",
            "chkDrName",
            "chkDate",
            "sdryChkDrName",
            "sdryChkDate",
            "rpotPubDate",
            "diagTime",
        ),
    ),
)
LONG_TEXT = frozenset({"imgDscr", "diagRslt", "rpotAdv", "clncDiag"})  # shown as paragraphs, line breaks kept


class PageRefused(Exception):
    """A page or sub-resource that is not shown: `status` is the HTTP status, `reason` what the page says."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Field:
    code: str
    title: str
    value: str
    long: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    fields: list[Field]


@dataclass(frozen=True)
class ReportFile:
    id: int
    rpot_no: str
    version: int
    size: int
    received_at: str
    current: bool  # the newest version of its report number


@dataclass(frozen=True)
class ReportPage:
    token: str
    heading: str
    findings: Section  # REPORT_FINDINGS, shown first
    sections: list[Section]  # the other REPORT_SECTIONS, after the PDF
    reports: list[ReportFile]  # the newest version of each report number first, then the earlier ones
    expires_at: int
    image_token: str  # the image page of the same exam, for the same institution, expiring with this link


@dataclass(frozen=True)
class Slice:
    """One picture of a series: an instance, or one frame of a multi-frame instance."""

    sop_instance_uid: str
    frame: int
    instance_number: int | None = None


@dataclass
class SeriesView:
    series_uid: str
    number: str
    modality: str
    description: str
    slices: list[Slice] = field(default_factory=list)
    not_shown: int = 0  # instances without pixels (structured reports, presentation states...)


@dataclass(frozen=True)
class ImagePage:
    token: str
    heading: str
    sections: list[Section]
    series: list[SeriesView]
    presets: list[tuple[str, str]]  # (value, name) when a series is CT; the page offers them on CT series only
    expires_at: int


# --- grants -------------------------------------------------------------------------------------------------------
def _event(
    runtime: Runtime, action: Access, grant: PageGrant | None, exam: StoredExam | None, client: str | None, **values: Any
) -> AccessEvent:
    person: tuple[str | None, str | None] = (None, None)
    if exam is not None:
        person = (exam.record.get("psnCertType"), exam.record.get("certno"))
    elif grant is not None:  # the exam is gone: whose it was, the index itself says (its parts 1 and 2)
        try:
            parts = runtime.contract.index.parse(grant.hi_img_indx)
            person = (parts.psn_cert_type, parts.certno)
        except IndexError_:
            pass
    return AccessEvent(
        action=action,
        institution_code=grant.institution_code if grant else UNKNOWN_INSTITUTION,
        source_address=client,
        psn_cert_type=person[0],
        certno=person[1],
        hi_img_indx=grant.hi_img_indx if grant else None,
        **values,
    )


def _open(
    runtime: Runtime, token: str, page: Page, action: Access, client: str | None, what: str
) -> tuple[PageGrant, StoredExam]:
    """The grant and its exam, or PageRefused (audited) when the token is bad or the exam is gone."""
    try:
        grant = runtime.links.open(token, page)
    except LinkRefused as refusal:
        expired = _expired_grant(runtime, token, page)
        status = 410 if expired else 403
        detail = f"{what}: {refusal.reason}"
        runtime.audit.record(_event(runtime, action, expired, None, client, outcome="refused", detail=detail))
        raise PageRefused(status, refusal.reason) from None
    with runtime.database.unit_of_work() as repository:
        exam = repository.exam(grant.hi_img_indx)
    if exam is None:
        reason = "该检查已删除或不存在"
        runtime.audit.record(_event(runtime, action, grant, None, client, outcome="refused", detail=f"{what}: {reason}"))
        raise PageRefused(410, reason)
    return grant, exam


def _expired_grant(runtime: Runtime, token: str, page: Page) -> PageGrant | None:
    """The grant of a token refused only for its age (it is authentic: it opens as of time 0), for the audit
    to say who it was issued to; None for a token that was altered or is another page's."""
    try:
        return runtime.links.open(token, page, now=0)
    except LinkRefused:
        return None


def _refuse(
    runtime: Runtime, action: Access, grant: PageGrant, exam: StoredExam, client: str | None, status: int, reason: str
) -> NoReturn:
    runtime.audit.record(_event(runtime, action, grant, exam, client, outcome="refused", detail=reason))
    raise PageRefused(status, reason)


# --- the record as fields -------------------------------------------------------------------------------------------
def _shown(contract: Contract, code: str, value: Any) -> str:
    """A field's value as the page shows it: identity numbers masked, codes with their dictionary names."""
    if value is None or value == "":
        return ""
    text = str(value)
    schema = contract.component("ExamRpotImgInfo")["properties"][code]
    if code == "certno":
        return masked_certno(text)
    name = schema.get("x-dictionary")
    if name:
        described = contract.dictionary(name)
        codes = [part for part in re.split(r"[ ,，]+", text) if part]
        return "、".join(f"{part} {described.describe(part) or ''}".strip() for part in codes)
    return text


def _sections(contract: Contract, record: dict[str, Any], groups: tuple[tuple[str, tuple[str, ...]], ...]) -> list[Section]:
    properties = contract.component("ExamRpotImgInfo")["properties"]
    sections = []
    for title, codes in groups:
        fields = [
            Field(code, properties[code]["title"], _shown(contract, code, record.get(code)), code in LONG_TEXT)
            for code in codes
            if code in properties and (record.get(code) not in (None, "") or code in LONG_TEXT)
        ]
        sections.append(Section(title, fields))
    return sections


def _heading(record: dict[str, Any]) -> str:
    parts = [record.get("fixmedinsName") or record.get("fixmedinsCode"), record.get("imgExamItem"), record.get("examDate")]
    return " · ".join(str(part) for part in parts if part)


# --- the report page ------------------------------------------------------------------------------------------------
def report_page(runtime: Runtime, token: str, client: str | None) -> ReportPage:
    grant, exam = _open(runtime, token, Page.report, Access.view_report, client, "报告页")
    with runtime.database.unit_of_work() as repository:
        stored = repository.page_reports(grant.hi_img_indx)
    reports = _newest_first(stored)
    runtime.audit.record(_event(runtime, Access.view_report, grant, exam, client, items=len(reports), detail="报告页"))
    findings, *sections = _sections(runtime.contract, exam.record, REPORT_SECTIONS)
    image_token = runtime.links.reissue(grant, Page.image)
    return ReportPage(token, _heading(exam.record), findings, sections, reports, grant.expires_at, image_token)


def _newest_first(reports: list[StoredReport]) -> list[ReportFile]:
    """The newest version of every report number (latest upload first), then all earlier versions."""
    newest = {report.rpot_no: report for report in reversed(reports)}  # rows come newest version first
    current = sorted(newest.values(), key=lambda report: (report.received_at, report.id), reverse=True)
    earlier = [report for report in reports if newest[report.rpot_no] is not report]
    return [_report_file(report, report in current) for report in current + earlier]


def _report_file(report: StoredReport, current: bool) -> ReportFile:
    # Stored in UTC (SQLite gives it back naive); shown in the processor's local time, the doctors' time.
    at = report.received_at if report.received_at.tzinfo else report.received_at.replace(tzinfo=UTC)
    received = f"{at.astimezone():%Y-%m-%d %H:%M:%S}"
    return ReportFile(report.id, report.rpot_no, report.version, report.size, received, current)


def report_pdf(runtime: Runtime, token: str, report_id: int, client: str | None) -> StoredFile:
    """The stored PDF of report `report_id`, open for reading (its size with it), if it is of the exam the token
    grants. The caller streams and closes it."""
    grant, exam = _open(runtime, token, Page.report, Access.view_report, client, "报告 PDF")
    with runtime.database.unit_of_work() as repository:
        report = repository.page_report(report_id)
    if report is None or report.hi_img_indx != grant.hi_img_indx:
        _refuse(runtime, Access.view_report, grant, exam, client, 404, "该报告不属于此检查")
    try:
        stored = runtime.store.open_stored(Path(report.path))
    except FileNotFoundError:
        raise PageRefused(404, "报告文件不存在") from None
    except StorageUnavailable as error:
        log.error("report page: %s", error)
        raise PageRefused(503, "报告存储暂不可用, 请稍后再试") from None
    detail = f"报告 PDF 第 {report.version} 版"
    runtime.audit.record(_event(runtime, Access.view_report, grant, exam, client, items=1, bytes_sent=report.size, detail=detail))
    return stored


# --- the image page -------------------------------------------------------------------------------------------------
IMAGE_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("检查", ("psnName", "certno", "gend", "age", "fixmedinsName", "examDate", "imgExamItem", "examPart", "examWay")),
)


@dataclass(frozen=True)
class _Header:
    series_number: str
    modality: str
    description: str
    instance_number: int | None
    frames: int
    has_pixels: bool


@functools.lru_cache(maxsize=50_000)
def _header(path: Path, md5: str) -> _Header:
    """What the page needs from an instance's header, for rows stored before revision 0003_instance_order (newer
    rows carry it: `_row_header`). Keyed by MD5 too: a path never changes content while its
    row lives, and the key keeps a cache entry from outliving a deleted and re-sent file of other content."""
    tags = ["SeriesNumber", "Modality", "SeriesDescription", "InstanceNumber", "NumberOfFrames", "Rows"]
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=tags)
    except (InvalidDicomError, OSError, ValueError) as error:
        log.warning("image page: header of a stored instance unreadable: %s", type(error).__name__)
        return _Header("", "", "", None, 0, False)

    def number(name: str) -> int | None:
        try:
            return integer_string(ds.get(name))
        except (TypeError, ValueError):
            return None

    return _Header(
        str(ds.get("SeriesNumber", "") or ""),
        str(ds.get("Modality", "") or ""),
        str(ds.get("SeriesDescription", "") or ""),
        number("InstanceNumber"),
        max(1, number("NumberOfFrames") or 1),
        "Rows" in ds,
    )


def _row_header(instance: ExamInstance) -> _Header:
    """What the page needs, from the row (read from the header at ingest): no file read."""
    return _Header(
        str(instance.series_number) if instance.series_number is not None else "",
        instance.modality or "",
        instance.series_description or "",
        instance.instance_number,
        max(1, instance.number_of_frames or 1),
        instance.rows is not None,
    )


def image_page(runtime: Runtime, token: str, client: str | None) -> ImagePage:
    grant, exam = _open(runtime, token, Page.image, Access.view_image, client, "影像页")
    with runtime.database.unit_of_work() as repository:
        instances = repository.page_instances(grant.hi_img_indx)
    series: dict[str, SeriesView] = {}
    ordered: dict[str, list[tuple[int | None, str, int]]] = {}
    for instance in instances:
        if instance.modality is not None:
            header = _row_header(instance)
        else:  # stored before revision 0003_instance_order
            header = _header(runtime.store.path(Path(instance.path)), instance.md5)
        view = series.get(instance.series_uid)
        if view is None:
            view = series[instance.series_uid] = SeriesView(
                instance.series_uid, header.series_number, header.modality, header.description
            )
            ordered[instance.series_uid] = []
        if not header.has_pixels:
            view.not_shown += 1
            continue
        ordered[instance.series_uid].append((header.instance_number, instance.sop_instance_uid, header.frames))
    for uid, view in series.items():
        # by Instance Number, those without one after; equal numbers in arrival order (sorted() is stable)
        for number, sop, frames in sorted(ordered[uid], key=lambda member: (member[0] is None, member[0] or 0)):
            view.slices.extend(Slice(sop, frame, number) for frame in range(frames))
    shown = sorted(series.values(), key=lambda view: (_as_int(view.number), view.series_uid))
    ct = any(view.modality == "CT" for view in shown)
    presets = [(preset.value, name) for preset, (name, _window) in CT_PRESETS.items()] if ct else []
    runtime.audit.record(_event(runtime, Access.view_image, grant, exam, client, items=len(instances), detail="影像页"))
    sections = _sections(runtime.contract, exam.record, IMAGE_SECTIONS)
    return ImagePage(token, _heading(exam.record), sections, shown, presets, grant.expires_at)


def image_studies(runtime: Runtime, token: str, client: str | None) -> list[str]:
    """The Study Instance UIDs of an image link's exam, in arrival order, for OHIF (mie.service.viewer); audited
    as the image page's opening."""
    grant, exam = _open(runtime, token, Page.image, Access.view_image, client, "影像查看器")
    with runtime.database.unit_of_work() as repository:
        instances = repository.page_instances(grant.hi_img_indx)
    studies = list(dict.fromkeys(instance.study_uid for instance in instances))
    event = _event(runtime, Access.view_image, grant, exam, client, items=len(instances), detail="影像查看器 (OHIF)")
    runtime.audit.record(event)
    return studies


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 1 << 31  # series without a number last


def image_png(
    runtime: Runtime,
    token: str,
    sop_instance_uid: str,
    frame: int,
    preset: str,
    client: str | None,
    center: str | None = None,
    width: str | None = None,
) -> Rendered:
    """One frame of an instance of the granted exam, rendered (`mie.service.render`) in the window the viewer
    asks for (`center` and `width`, both or neither), else in `preset`'s; with the window applied."""
    try:
        window = asked_window(center, width)
    except WindowRefused as refused:  # checked before the token: nothing is read for a request that cannot be drawn
        raise PageRefused(400, refused.reason) from None
    grant, exam = _open(runtime, token, Page.image, Access.view_image, client, "影像")
    with runtime.database.unit_of_work() as repository:
        instance = repository.instance(sop_instance_uid)
    if instance is None or instance.hi_img_indx != grant.hi_img_indx:
        _refuse(runtime, Access.view_image, grant, exam, client, 404, "该影像不属于此检查")
    try:
        chosen = Preset(preset)
    except ValueError:
        chosen = Preset.auto
    try:
        with runtime.store.open_stored(Path(instance.path)) as stored:
            rendered = render(stored, frame, chosen, window)
    except RenderError as error:
        log.warning("image page: a stored instance could not be rendered: %s", error)
        _refuse(runtime, Access.view_image, grant, exam, client, 422, "该影像无法显示")
    # Not audited one by one when shown: scrolling a series loads hundreds, and the page view that listed
    # them is on record with their count. Refusals are.
    return rendered
