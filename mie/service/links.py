"""Capability links: the report and image pages that a §2.6 answer points to (examRpotLinkUrl, imgInfoLinkUrl).

§2.6 says these links "open in a browser within the medical-insurance network", so they cannot carry the
institution's key. Each link carries instead a token that grants one page of one exam to the institution that
queried, until it expires. The token is sealed with AES-GCM under a secret of this processor: altering any
byte makes it unreadable, and it does not show the index it names (the index embeds an identity number, and
links end up in browser histories and proxy logs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import orjson
import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_CONTEXT = b"mie page link v1"  # authenticated with each token: a token of another purpose never opens a page


class Page(StrEnum):
    """The two pages §2.6 links to; the value is the path segment the document's example shows. `dicomweb` is no
    page: a read-only DICOMweb root for the exam of an image link, expiring with it (mie/service/dicomweb.py)."""

    report = "report"
    image = "image"
    dicomweb = "dicomweb"


@dataclass(frozen=True)
class PageGrant:
    """What a link's token grants: one page of one exam, to the institution that queried, until `expires_at`."""

    page: Page
    hi_img_indx: str
    institution_code: str
    expires_at: int  # Unix seconds


class LinkRefused(Exception):
    """A token that was altered, is of another page, or has expired. `reason` is said on the refusal page."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LinkSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        if len(secret) != 32:
            raise ValueError("the link secret must be 32 bytes")
        self._aead = AESGCM(secret)
        self._nonce_key = hashlib.sha256(b"mie derived link nonce\0" + secret).digest()
        self.ttl_seconds = ttl_seconds

    def issue(
        self, page: Page, hi_img_indx: str, institution_code: str, now: float | None = None, expires_at: int | None = None
    ) -> str:
        """A token for `page`, valid for the link TTL from `now`, or until `expires_at` (a grant derived from another)."""
        return self.issue_pages((page,), hi_img_indx, institution_code, now, expires_at)[0]

    def issue_pages(
        self,
        pages: Iterable[Page],
        hi_img_indx: str,
        institution_code: str,
        now: float | None = None,
        expires_at: int | None = None,
    ) -> list[str]:
        """A token for each of `pages` of one exam, each with a nonce of its own, all expiring at the same second
        (one §2.6 record links to both pages). The payload is the compact JSON array `open` reads."""
        if expires_at is None:
            expires_at = int(now if now is not None else time.time()) + self.ttl_seconds
        tokens = []
        for page in pages:
            payload = orjson.dumps([page.value, hi_img_indx, institution_code, expires_at])
            nonce = os.urandom(_NONCE_BYTES)
            sealed = nonce + self._aead.encrypt(nonce, payload, _CONTEXT)
            tokens.append(pybase64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii"))
        return tokens

    def derive(self, token: str, grant: PageGrant, page: Page) -> str:
        """A token for `page` of the grant `token` carries (opened by the caller), expiring with it, and the same
        each time for the same token: its nonce is derived from the token (keyed), so the one payload is sealed
        with one nonce. A §2.6 image link opened again gets the same DICOMweb root, and with it the series
        metadata built for that root before (mie/service/dicomweb.py)."""
        payload = orjson.dumps([page.value, grant.hi_img_indx, grant.institution_code, grant.expires_at])
        nonce = hmac.new(self._nonce_key, token.encode("ascii") + b"\0" + page.value.encode(), "sha256").digest()[:_NONCE_BYTES]
        sealed = nonce + self._aead.encrypt(nonce, payload, _CONTEXT)
        return pybase64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def reissue(self, grant: PageGrant, page: Page) -> str:
        """A token for another page of the same grant (same exam, same institution), expiring with it."""
        return self.issue(page, grant.hi_img_indx, grant.institution_code, now=grant.expires_at - self.ttl_seconds)

    def open(self, token: str, page: Page, now: float | None = None) -> PageGrant:
        """The grant a token carries for `page`; LinkRefused when it was altered, is another page's, or expired."""
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _CONTEXT)
            kind, hi_img_indx, institution_code, expires_at = json.loads(payload)
            grant = PageGrant(Page(kind), str(hi_img_indx), str(institution_code), int(expires_at))
        except (ValueError, TypeError, InvalidTag) as error:  # binascii.Error is a ValueError
            raise LinkRefused("链接无效或已被修改") from error
        if grant.page is not page:
            raise LinkRefused("链接无效或已被修改")
        if (now if now is not None else time.time()) >= grant.expires_at:
            raise LinkRefused("链接已过期，请重新查询")
        return grant


def page_url(public_url: str, page: Page, token: str) -> str:
    """The page's address as the document's §2.6 example shapes it (…/mie/report/view, …/mie/image/view)."""
    return f"{public_url}/mie/{page.value}/view?t={token}"


def light_image_url(public_url: str, token: str) -> str:
    """The light image page of an image link's token: where the link sends a browser without WebGL (or any
    browser, when OHIF is not installed: mie.service.viewer), and a link of its own on the viewer's way."""
    return f"{public_url}/mie/image/light?t={token}"
