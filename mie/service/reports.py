"""Reports in: saveRptFile (§2.4), one PDF per upload, attached to its exam and report number.

A new upload of the same report (same hiImgIndx and rpotNo) is a new version; earlier files are kept.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from generated.models import ResponseCode
from mie.contract import Contract
from mie.contract.validation import mask
from mie.service.answers import Answer, entry, storage_unavailable
from mie.service.envelope import remember_answer
from mie.service.messages import with_notes
from mie.service.uploads import UploadedFile, file_answer, receive_upload
from mie.store.database import Database
from mie.store.files import FileStore, Spooled, StorageUnavailable

log = logging.getLogger("mie.reports")

REPORT_AREA = "reports"


def is_pdf(spooled: Spooled) -> bool:
    """A PDF starts with %PDF- and ends (give or take trailing whitespace or a final line) with %%EOF."""
    with spooled.path.open("rb") as stream:
        head = stream.read(5)
        stream.seek(max(0, spooled.size - 2048))
        tail = stream.read()
    return head == b"%PDF-" and b"%%EOF" in tail


def save_rpt_file(
    contract: Contract,
    database: Database,
    store: FileStore,
    headers: Mapping[str, str],
    form: Mapping[str, Any],
    pdf: UploadedFile | None,
    max_file_bytes: int,
) -> Answer:
    upload = receive_upload(
        contract, database, store, "saveRptFile", "SaveRptFileForm", "examRpotPdf1", headers, form, pdf, max_file_bytes
    )
    if isinstance(upload, Answer):
        return upload
    value, spooled, institution, envelope = upload.value, upload.spooled, upload.institution, upload.envelope
    index_text = value["hiImgIndx"]
    placed: Path | None = None
    try:
        if spooled.md5 != value["fileMd5"].lower():
            return file_answer(
                ResponseCode.file_md5_mismatch, index_text, f"{entry(ResponseCode.file_md5_mismatch).name}: {spooled.md5}"
            )
        if not is_pdf(spooled):
            return file_answer(ResponseCode.file_invalid, index_text, f"{entry(ResponseCode.file_invalid).name}: 不是 PDF 文件")
        with database.unit_of_work() as repository:
            if repository.exam_owner(index_text) != institution:
                return file_answer(ResponseCode.unknown_exam, index_text, entry(ResponseCode.unknown_exam).name)
            version = repository.latest_report_version(index_text, value["rpotNo"]) + 1
            # Named by a fresh UUID under the checked index: rpotNo is free text and never becomes a path.
            relative = Path(REPORT_AREA) / index_text / f"{uuid.uuid4().hex}.pdf"
            repository.add_report(
                {
                    "hi_img_indx": index_text,
                    "rpot_no": value["rpotNo"],
                    "version": version,
                    "study_uid": value["studyUid"],
                    "size": spooled.size,
                    "md5": spooled.md5,
                    "path": relative.as_posix(),
                    "institution_code": institution,
                }
            )
            store.commit(spooled, relative)
            placed = relative
            message = "成功" + (f"; 第 {version} 版, 此前的版本已保留" if version > 1 else "")
            answer = file_answer(ResponseCode.success, index_text, with_notes(message, upload.notes))
            remember_answer(repository, institution, envelope, answer)
    except StorageUnavailable as error:  # from its put: nothing stored, the transaction rolled back
        raise storage_unavailable(error) from None
    except BaseException:
        if placed is not None:
            store.remove(placed)
        raise
    finally:
        store.discard(spooled)
    log.info("report %s v%d of %s from %s stored", mask(value["rpotNo"]), version, mask(index_text), institution)
    return answer
