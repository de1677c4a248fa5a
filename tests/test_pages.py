"""The report and image pages §2.6's links open: what they show, what they refuse, what they audit."""

from __future__ import annotations

import html
import io
import json
import re
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from mie.contract import current
from mie.runtime import Runtime
from mie.service import pages
from mie.service.audit import Access
from mie.service.links import Page, page_url
from mie.service.pages import IMAGE_SECTIONS, REPORT_SECTIONS
from tests.conftest import DELETE_EXAM, OTHER_INSTITUTION, delete_message
from tests.page_data import StoredExamData, instance_of, pdf, store_ct_series, store_exam, store_instance, store_report

CONTRACT = current()

FINDINGS = "双肺纹理清晰，未见明显实质性病变。\n心影大小形态正常。"
CONCLUSION = "胸部CT平扫未见明显异常"


def link(runtime: Runtime, page: Page, exam: StoredExamData, **kwargs: Any) -> str:
    """The page's path and query, as a §2.6 answer would link it for the other institution."""
    token = runtime.links.issue(page, exam.record["hiImgIndx"], OTHER_INSTITUTION, **kwargs)
    return page_url("", page, token)


def token_of(address: str) -> str:
    return address.split("?t=", 1)[1]


def events(runtime: Runtime) -> list[dict[str, Any]]:
    return runtime.audit.events()


def series_of(page: str) -> list[dict[str, Any]]:
    """The series the image page lists, as its script reads them."""
    data = re.search(r'<script type="application/json" id="series-data">(.*?)</script>', page, re.S)
    assert data is not None
    return json.loads(data.group(1))


def visible_text(page: str) -> str:
    """What a reader sees of a page: no scripts, styles or tags."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S))


# ASCII punctuation touching a Chinese character: a Chinese sentence written with , . : ; ( ) instead of ，。：；（）
ASCII_IN_CHINESE = re.compile(r"[\u4e00-\u9fff][,.:;()]|[,:;()][\u4e00-\u9fff]|[\u4e00-\u9fff], ")


@pytest.fixture
def exam(client: TestClient) -> StoredExamData:
    return store_exam(client, imgDscr=FINDINGS, diagRslt=CONCLUSION, rpotDrName="李医生", chkDrName="王主任")


def test_the_report_page_shows_the_record_in_the_specs_words(client: TestClient, runtime: Runtime, exam: StoredExamData) -> None:
    answer = client.get(link(runtime, Page.report, exam))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    properties = CONTRACT.component("ExamRpotImgInfo")["properties"]
    for code in ("imgDscr", "diagRslt", "rpotDrName", "chkDrName", "examDate", "fixmedinsName", "imgExamItem"):
        assert f"<dt>{properties[code]['title']}</dt>" in page, code
    assert html.escape(FINDINGS) in page and CONCLUSION in page and "李医生" in page and "王主任" in page
    # the identity number masked as the document's §2.6 example does, never in full, not even in the index
    certno = exam.record["certno"]
    assert f"{certno[:6]}*****{certno[-4:]}" in page and certno not in page
    assert 'id="no-report"' in page  # no PDF yet
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # nothing from outside


def test_the_report_page_puts_findings_first_then_the_pdf_and_links_to_the_images(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    store_report(client, exam, pdf("findings first"))
    address = link(runtime, Page.report, exam)
    page = client.get(address).text
    findings, conclusion = page.index(html.escape(FINDINGS)), page.index(CONCLUSION)
    frame = re.search(r'<iframe[^>]* src="([^"]+)"', page)
    assert frame is not None and frame.group(1).endswith("view=FitH")  # the PDF at the page's width
    patient = page.index(f"<dt>{CONTRACT.component('ExamRpotImgInfo')['properties']['psnName']['title']}</dt>")
    assert findings < conclusion < frame.start() < patient
    assert not ASCII_IN_CHINESE.search(visible_text(page.replace(html.escape(FINDINGS), "")))
    images = re.search(r'<a class="images" id="images-link" href="([^"]+)"', page)
    assert images is not None and images.group(1).startswith("../image/view?t=")
    opened = client.get("/mie/report/" + html.unescape(images.group(1)))  # as the browser resolves it
    assert opened.status_code == 200 and 'id="series-data"' in opened.text
    # the same exam, for the same institution, expiring with the report's link
    report_grant = runtime.links.open(token_of(address), Page.report)
    image_grant = runtime.links.open(token_of(html.unescape(images.group(1))), Page.image)
    assert (image_grant.hi_img_indx, image_grant.institution_code, image_grant.expires_at) == (
        report_grant.hi_img_indx,
        report_grant.institution_code,
        report_grant.expires_at,
    )


def test_report_pdfs_inline_newest_first_and_earlier_reachable(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    first, second, other = pdf("version one"), pdf("version two"), pdf("another report")
    store_report(client, exam, first)
    store_report(client, exam, second)
    store_report(client, exam, other, rpot_no="R999")
    page = client.get(link(runtime, Page.report, exam)).text
    sources = re.findall(r'href="(pdf\?t=[^"]+)"', page)
    frame = re.search(r'<iframe[^>]* src="(pdf\?t=[^"]+)"', page)
    assert frame is not None and len(sources) == 3
    labels = re.findall(r"报告编号 (\S+) 第 (\d) 版", page)
    assert labels == [("R999", "1"), ("R123456", "2"), ("R123456", "1")]  # newest of each first, then earlier
    assert html.unescape(frame.group(1)) == html.unescape(sources[0])
    bodies = []
    for source in sources:
        answer = client.get("/mie/report/" + html.unescape(source))
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"].startswith("inline")
        bodies.append(answer.content)
    assert bodies == [other, second, first]


def test_the_image_page_lists_the_series_in_order_and_renders_each_slice(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    store_ct_series(client, exam, count=3, others=("rle", "jpeg2000", "jpeg-lossless"))
    page = client.get(link(runtime, Page.image, exam)).text
    series = series_of(page)
    assert len(series) == 4
    ct = next(view for view in series if view["uid"] == exam.series_uid)
    assert [sop for sop, _frame, _number in ct["slices"]] == exam.sop_uids  # InstanceNumber order, whatever the arrival
    assert [number for _sop, _frame, number in ct["slices"]] == [1, 2, 3]  # what the overlay shows
    assert "肺窗" in page and "骨窗" in page and "软组织" in page and "脑窗" in page
    token = token_of(link(runtime, Page.image, exam))
    pictures = set()
    for view in series:
        for sop, frame, _number in view["slices"]:
            for preset in ("auto", "lung") if view["modality"] == "CT" else ("auto",):
                answer = client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": frame, "preset": preset})
                assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
                assert "private" in answer.headers["cache-control"]
                image = np.asarray(Image.open(io.BytesIO(answer.content)))
                assert image.std() > 5
                pictures.add(image.tobytes())
    assert len(pictures) == 3 * 2 + 3


def test_the_render_route_draws_the_window_asked_for_and_says_which_it_applied(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    store_ct_series(client, exam, count=1)
    token, sop = token_of(link(runtime, Page.image, exam)), exam.sop_uids[0]

    def render(**window: str) -> Any:
        answer = client.get("/mie/image/render", params={"t": token, "sop": sop, **window})
        assert answer.status_code == 200, answer.text
        return answer

    soft = render(preset="soft-tissue")
    asked = render(wc="40", ww="400")
    assert asked.content == soft.content  # the soft-tissue preset is centre 40, width 400
    assert (asked.headers["x-window-center"], asked.headers["x-window-width"]) == ("40", "400")
    assert (soft.headers["x-window-center"], soft.headers["x-window-width"]) == ("40", "400")
    other = render(wc="-600", ww="1500.5", preset="bone")  # an asked window wins over a preset
    assert other.content not in (soft.content, render(preset="bone").content)
    assert (other.headers["x-window-center"], other.headers["x-window-width"]) == ("-600", "1500.5")
    auto = render()  # CT_small has no window of its own: its range, said in numbers
    assert float(auto.headers["x-window-width"]) > 1 and auto.content != soft.content


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ({"wc": "40"}, "缺少窗宽"),
        ({"ww": "400"}, "缺少窗位"),
        ({"wc": "x", "ww": "400"}, "窗位不是数字"),
        ({"wc": "40", "ww": "0"}, "窗宽超出范围"),
        ({"wc": "40", "ww": "-5"}, "窗宽超出范围"),
        ({"wc": "nan", "ww": "400"}, "窗位超出范围"),
        ({"wc": "40", "ww": "inf"}, "窗宽超出范围"),
        ({"wc": "1e300", "ww": "400"}, "窗位超出范围"),
    ],
)
def test_a_window_out_of_bounds_is_refused_with_a_page(
    client: TestClient, runtime: Runtime, exam: StoredExamData, window: dict[str, str], reason: str
) -> None:
    store_ct_series(client, exam, count=1)
    token = token_of(link(runtime, Page.image, exam))
    answer = client.get("/mie/image/render", params={"t": token, "sop": exam.sop_uids[0], **window})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
    assert reason in answer.text and "Traceback" not in answer.text
    assert not ASCII_IN_CHINESE.search(visible_text(answer.text))


def test_the_first_view_of_instances_stored_now_reads_no_file(client: TestClient, runtime: Runtime, exam: StoredExamData) -> None:
    """Order, series number, modality, description and frames come from the rows (read at ingest): no header is
    read from a file (pages._header is for rows stored before revision 0003_instance_order)."""
    store_ct_series(client, exam, count=4, others=("mr",))
    pages._header.cache_clear()
    page = client.get(link(runtime, Page.image, exam)).text
    assert pages._header.cache_info().misses == 0
    series = series_of(page)
    ct = next(view for view in series if view["uid"] == exam.series_uid)
    assert [sop for sop, _frame, _number in ct["slices"]] == exam.sop_uids  # sent in reverse: ordered by InstanceNumber
    assert "Chest 5mm" in page and {view["modality"] for view in series} == {"CT", "MR"}


def test_a_sub_resource_of_another_exam_is_refused(client: TestClient, runtime: Runtime, exam: StoredExamData) -> None:
    other = store_ct_series(client, store_exam(client), count=1)
    store_report(client, other, pdf("not yours"))
    token = token_of(link(runtime, Page.image, exam))
    answer = client.get("/mie/image/render", params={"t": token, "sop": other.sop_uids[0]})
    assert answer.status_code == 404 and "不属于此检查" in answer.text
    report_token = token_of(link(runtime, Page.report, exam))
    other_page = client.get(link(runtime, Page.report, other)).text
    report_id = re.search(r"id=(\d+)", html.unescape(other_page))
    assert report_id is not None
    answer = client.get("/mie/report/pdf", params={"t": report_token, "id": report_id.group(1)})
    assert answer.status_code == 404 and "不属于此检查" in answer.text
    for broken in ("99999999999999999999", "-1", "x"):
        assert client.get("/mie/report/pdf", params={"t": report_token, "id": broken}).status_code == 400
    # a report link does not open images, nor an image link reports
    assert client.get("/mie/image/render", params={"t": report_token, "sop": other.sop_uids[0]}).status_code == 403
    assert client.get("/mie/report/view", params={"t": token}).status_code == 403


@pytest.mark.parametrize("page", [Page.report, Page.image])
def test_altered_expired_and_deleted_links_get_a_page_in_chinese(
    client: TestClient, runtime: Runtime, exam: StoredExamData, page: Page
) -> None:
    good = link(runtime, page, exam)
    position = len(good) - 10
    altered = good[:position] + ("A" if good[position] != "A" else "B") + good[position + 1 :]
    expired = link(runtime, page, exam, now=time.time() - runtime.links.ttl_seconds - 1)
    for address, status, reason in (
        (altered, 403, "链接无效或已被修改"),
        (expired, 410, "链接已过期"),
        (f"/mie/{page.value}/view", 403, "缺少访问令牌"),
        (f"/mie/{page.value}/view?t=%3Cscript%3E", 403, "链接无效或已被修改"),
    ):
        answer = client.get(address)
        assert answer.status_code == status, address
        assert answer.headers["content-type"].startswith("text/html")
        assert reason in answer.text and "Traceback" not in answer.text and "<script>" not in answer.text
        assert not ASCII_IN_CHINESE.search(visible_text(answer.text)), visible_text(answer.text)
    assert client.get(good).status_code == 200
    assert client.post(DELETE_EXAM, json=delete_message(exam.record["hiImgIndx"])).json()["code"] == 0
    answer = client.get(good)
    assert answer.status_code == 410 and "该检查已删除" in answer.text
    # the audit still says whose exam was asked for, from the index the link names
    person = (exam.record["psnCertType"], exam.record["certno"])
    assert [event["outcome"] for event in runtime.audit.events(person=person)][-1] == "refused"


def test_text_from_the_record_is_escaped(client: TestClient, runtime: Runtime) -> None:
    exam = store_exam(client, imgDscr='<script>alert("x")</script>', diagRslt="<img src=x onerror=alert(1)>")
    page = client.get(link(runtime, Page.report, exam)).text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_views_and_refusals_are_audited_with_the_client_address(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    store_report(client, exam, pdf("audited"))
    client.get(link(runtime, Page.report, exam))
    client.get(link(runtime, Page.image, exam))
    client.get(link(runtime, Page.image, exam, now=time.time() - runtime.links.ttl_seconds - 1))
    client.get("/mie/report/view?t=broken")
    recorded = events(runtime)
    assert [(event["action"], event["outcome"]) for event in recorded] == [
        (Access.view_report.value, "ok"),
        (Access.view_image.value, "ok"),
        (Access.view_image.value, "refused"),
        (Access.view_report.value, "refused"),
    ]
    view = recorded[0]
    assert view["institution_code"] == OTHER_INSTITUTION and view["source_address"] == "testclient"
    assert view["items"] == 1 and view["person_masked"].endswith(exam.record["certno"][-4:])
    assert exam.record["certno"] not in str(recorded)
    assert recorded[2]["institution_code"] == OTHER_INSTITUTION and "过期" in recorded[2]["detail"]
    assert recorded[3]["institution_code"] == "-"
    pdf_link = re.search(r'src="(pdf\?t=[^"]+)"', client.get(link(runtime, Page.report, exam)).text)
    assert pdf_link is not None
    client.get("/mie/report/" + html.unescape(pdf_link.group(1)))
    last = events(runtime)[-1]
    assert last["bytes_sent"] == len(pdf("audited")) and last["action"] == Access.view_report.value


def test_a_multiframe_instance_is_a_slice_per_frame_and_objects_without_pixels_are_counted(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    study = exam.record["studyUid"]
    store_instance(client, exam, instance_of("SC_rgb_rle_2frame.dcm", study), total=2)
    store_instance(client, exam, instance_of("test-SR.dcm", study), total=2)
    address = link(runtime, Page.image, exam)
    page = client.get(address).text
    series = series_of(page)
    frames = next(view for view in series if view["slices"])
    assert [frame for _sop, frame, _number in frames["slices"]] == [0, 1]
    assert next(view for view in series if not view["slices"])["not_shown"] == 1
    assert "另有 1 个非图像对象" in page and not ASCII_IN_CHINESE.search(visible_text(page))
    token, sop = token_of(address), frames["slices"][0][0]
    first = client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": 0})
    second = client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": 1})
    assert first.status_code == second.status_code == 200 and first.content != second.content
    beyond = client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": 2})
    assert beyond.status_code == 422 and "该影像无法显示" in beyond.text
    assert client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": "-1"}).status_code == 400


def test_every_field_the_pages_show_is_in_the_spec() -> None:
    properties = CONTRACT.component("ExamRpotImgInfo")["properties"]
    for sections in (REPORT_SECTIONS, IMAGE_SECTIONS):
        for _title, codes in sections:
            assert set(codes) <= set(properties), set(codes) - set(properties)


def test_an_instance_the_decoders_cannot_read_is_said_so_not_a_crash(
    client: TestClient, runtime: Runtime, exam: StoredExamData
) -> None:
    """pydicom's JPEG-lossy.dcm is a 12-bit JPEG that libjpeg refuses (pydicom's own tests decode it only with GDCM)."""
    store_instance(client, exam, instance_of("JPEG-lossy.dcm", exam.record["studyUid"]), total=1)
    address = link(runtime, Page.image, exam)
    [view] = series_of(client.get(address).text)
    answer = client.get("/mie/image/render", params={"t": token_of(address), "sop": view["slices"][0][0]})
    assert answer.status_code == 422 and "该影像无法显示" in answer.text and "Traceback" not in answer.text
    assert runtime.audit.events()[-1]["outcome"] == "refused"
