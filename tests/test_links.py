"""Capability links of the report and image pages: sealed, bound to page, exam and institution, expiring."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from mie.service.links import LinkRefused, LinkSigner, Page, page_url
from mie.store.files import FileStore

INDEX = "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"


def signer(tmp_path: Path, ttl: int = 600) -> LinkSigner:
    return LinkSigner(FileStore(tmp_path).secret("page-links"), ttl)


def test_a_token_opens_its_page_of_its_exam_for_its_institution(tmp_path: Path) -> None:
    links = signer(tmp_path)
    token = links.issue(Page.report, INDEX, "H52030200193", now=1_000_000)
    grant = links.open(token, Page.report, now=1_000_000 + 599)
    assert (grant.page, grant.hi_img_indx, grant.institution_code, grant.expires_at) == (
        Page.report,
        INDEX,
        "H52030200193",
        1_000_600,
    )


def test_the_token_does_not_show_the_index_it_names(tmp_path: Path) -> None:
    token = signer(tmp_path).issue(Page.image, INDEX, "H52030200193")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"110101197804050038" not in raw and "110101197804050038" not in token


def _decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def test_every_altered_character_is_refused(tmp_path: Path) -> None:
    links = signer(tmp_path)
    token = links.issue(Page.image, INDEX, "H52030200193", now=1_000_000)
    sealed = _decoded(token)
    for position in range(len(token)):
        # a replacement that changes the sealed bytes: the last character of unpadded base64 carries unused bits,
        # and one that differs only there alters nothing
        altered = next(
            candidate
            for replacement in "ABCDEFGH"
            if replacement != token[position]
            and _decoded(candidate := token[:position] + replacement + token[position + 1 :]) != sealed
        )
        with pytest.raises(LinkRefused, match="无效"):
            links.open(altered, Page.image, now=1_000_000)
    for broken in ("", "x", token[:-4], token + "AAAA", "%%%%"):
        with pytest.raises(LinkRefused):
            links.open(broken, Page.image, now=1_000_000)


def test_expired_and_other_page_are_refused(tmp_path: Path) -> None:
    links = signer(tmp_path, ttl=60)
    token = links.issue(Page.report, INDEX, "H52030200193", now=1_000_000)
    with pytest.raises(LinkRefused, match="过期"):
        links.open(token, Page.report, now=1_000_060)
    with pytest.raises(LinkRefused, match="无效"):
        links.open(token, Page.image, now=1_000_000)


def test_another_processors_secret_opens_nothing(tmp_path: Path) -> None:
    token = signer(tmp_path / "a").issue(Page.report, INDEX, "H52030200193")
    with pytest.raises(LinkRefused):
        signer(tmp_path / "b").open(token, Page.report)


def test_the_secret_is_kept_private_and_shared_by_the_data_directory(tmp_path: Path) -> None:
    first = FileStore(tmp_path).secret("page-links")
    assert len(first) == 32
    assert FileStore(tmp_path).secret("page-links") == first
    assert stat.S_IMODE((tmp_path / "secrets" / "page-links").stat().st_mode) == 0o600
    assert not list((tmp_path / "tmp").iterdir())


def test_page_url_has_the_documents_shape() -> None:
    assert page_url("http://10.1.2.3:8080", Page.report, "T") == "http://10.1.2.3:8080/mie/report/view?t=T"
    assert page_url("http://10.1.2.3:8080", Page.image, "T") == "http://10.1.2.3:8080/mie/image/view?t=T"


def test_a_derived_token_is_the_same_for_the_same_link_and_expires_with_it(tmp_path: Path) -> None:
    """An image link's DICOMweb token (`derive`): the same each time the link is opened, another for another link
    of the same exam, opening as the DICOMweb root of the link's exam until the link expires."""
    links = signer(tmp_path)
    image = links.issue(Page.image, INDEX, "H52030200193", now=1_000_000)
    grant = links.open(image, Page.image, now=1_000_000)
    derived = links.derive(image, grant, Page.dicomweb)
    assert links.derive(image, grant, Page.dicomweb) == derived
    other = links.issue(Page.image, INDEX, "H52030200193", now=1_000_000)
    assert links.derive(other, links.open(other, Page.image, now=1_000_000), Page.dicomweb) != derived
    opened = links.open(derived, Page.dicomweb, now=1_000_599)
    assert (opened.page, opened.hi_img_indx, opened.institution_code, opened.expires_at) == (
        Page.dicomweb,
        INDEX,
        "H52030200193",
        1_000_600,
    )
    with pytest.raises(LinkRefused):
        links.open(derived, Page.dicomweb, now=1_000_601)
    with pytest.raises(LinkRefused):
        links.open(derived, Page.image, now=1_000_000)
