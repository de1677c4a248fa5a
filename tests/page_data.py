"""An exam with a report PDF and a CT series, stored through the processor's own HTTP transactions (§2.1, §2.2, §2.4).

Works with Starlette's TestClient and with an httpx.Client on a running `mie serve` alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.conftest import INSTITUTION, KEY, SAVE_EXAM, exam_message, exam_record, new_msgid
from tests.dicom_files import dataset, make_instance, md5, part10_bytes

SAVE_IMG_FILE = "/mie/api/mie/saveImgFile"
SAVE_RPT_FILE = "/mie/api/mie/saveRptFile"
ACCESSION = "114649960"
CT_SERIES_NUMBER = 2  # the Series Number of `ct_series`


def pdf(text: str) -> bytes:
    """A small valid one-page PDF showing `text` (ASCII), with a correct cross-reference table."""
    stream = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


class Poster(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...


def _headers(infno: str) -> dict[str, str]:
    return {"infno": infno, "msgid": new_msgid(), "infTime": "2025-03-03 01:00:00", "infCode": INSTITUTION, "key": KEY}


@dataclass
class StoredExamData:
    record: dict[str, Any]
    sop_uids: list[str] = field(default_factory=list)  # in InstanceNumber order
    series_uid: str = ""


def store_exam(client: Poster, **changes: Any) -> StoredExamData:
    record = exam_record(**changes)
    answer = client.post(SAVE_EXAM, json=exam_message(record)).json()
    assert answer["code"] == 0 and answer["data"][0]["succFlag"] == "1", answer
    return StoredExamData(record)


def store_report(client: Poster, exam: StoredExamData, data: bytes, rpot_no: str = "R123456") -> None:
    form = {"hiImgIdx": exam.record["hiImgIndx"], "studyUId": exam.record["studyUid"], "rpotNo": rpot_no, "fileMd5": md5(data)}
    answer = client.post(
        SAVE_RPT_FILE, headers=_headers("saveRptFile"), data=form, files={"examRpotPdf1": ("report.pdf", data, "application/pdf")}
    ).json()
    assert answer["code"] == 0, answer


def store_instance(client: Poster, exam: StoredExamData, data: bytes, total: int) -> None:
    form = {
        "hiImgIdx": exam.record["hiImgIndx"],
        "studyUid": exam.record["studyUid"],
        "accessionNumber": ACCESSION,
        "fileMd5": md5(data),
        "imageTotalNum": str(total),
    }
    answer = client.post(
        SAVE_IMG_FILE, headers=_headers("saveImgFile"), data=form, files={"dicom": ("image.dcm", data, "application/dicom")}
    ).json()
    assert answer["code"] == 0, answer


def ct_series(study_uid: str, count: int) -> list[pydicom.Dataset]:
    """`count` slices of one CT series (CT_small, each shifted so the slices differ), InstanceNumber 1..count."""
    series_uid = generate_uid()
    base = dataset("ct")
    slices = []
    for number in range(1, count + 1):
        ds = make_instance(study_uid, ACCESSION, "ct")
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = CT_SERIES_NUMBER
        ds.SeriesDescription = "Chest 5mm"
        ds.InstanceNumber = number
        # slices 5 mm apart along the normal: a series a viewer can stack into a volume (OHIF warns on one it cannot),
        # the first the highest (OHIF shows the highest first: the first slice, whose band is narrow, not one all white)
        x, y, z = (float(value) for value in base.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z - (number - 1) * 5.0]
        ds.SliceLocation = z - (number - 1) * 5.0
        ds.SliceThickness = 5.0
        pixels = base.pixel_array.copy()
        pixels[: number * 8, :] = pixels.max()  # a bright band that grows slice by slice
        ds.PixelData = pixels.tobytes()
        slices.append(ds)
    return slices


def store_ct_series(client: Poster, exam: StoredExamData, count: int = 3, others: tuple[str, ...] = ()) -> StoredExamData:
    """A CT series of `count` slices, sent in reverse order, and one instance of each kind in `others`."""
    slices = ct_series(exam.record["studyUid"], count)
    extra = [make_instance(exam.record["studyUid"], ACCESSION, kind) for kind in others]
    total = len(slices) + len(extra)
    for ds in [*reversed(slices), *extra]:
        store_instance(client, exam, part10_bytes(copy.deepcopy(ds)), total)
    exam.sop_uids = [str(ds.SOPInstanceUID) for ds in slices]
    exam.series_uid = str(slices[0].SeriesInstanceUID)
    return exam


def instance_of(name: str, study_uid: str) -> bytes:
    """pydicom's test file `name` as a new instance (new SOP and series UIDs) of `study_uid`, Part 10 bytes."""
    path = get_testdata_file(name)
    assert path is not None, f"pydicom's test file {name} is missing"
    ds = pydicom.dcmread(path)
    if 0xFFFCFFFC in ds:
        del ds[0xFFFCFFFC]
    if ds.file_meta.TransferSyntaxUID.is_compressed and "PixelData" in ds:
        ds["PixelData"].VR = "OB"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber = ACCESSION
    return part10_bytes(ds)
