"""Institutions (infCode) and their keys: registration and authentication; the networks queries may come from."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading

from sqlmodel import select

from generated.models import ResponseCode
from mie.service.answers import MieError
from mie.store.database import Database
from mie.store.repository import Repository
from mie.store.tables import Institution

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def hash_key(key: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(key.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _scrypt_matches(key: str, key_hash: str) -> bool:
    scheme, salt_hex, digest_hex = key_hash.split("$")
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(key.encode("utf-8"), salt=bytes.fromhex(salt_hex), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


class _VerifiedKeys:
    """Keys already checked against their scrypt hash, by (stored hash, SHA-256 of key).

    scrypt is slow on purpose (tens of ms); doing it on every request would cap throughput. A changed key
    has a new stored hash, so an old entry can never admit it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verified: set[tuple[str, bytes]] = set()

    def matches(self, key: str, key_hash: str) -> bool:
        marker = (key_hash, hashlib.sha256(key.encode("utf-8")).digest())
        if marker in self._verified:
            return True
        if not _scrypt_matches(key, key_hash):
            return False
        with self._lock:
            self._verified.add(marker)
        return True


_verified_keys = _VerifiedKeys()


def add_institution(database: Database, code: str, key: str, name: str | None = None, ae_title: str | None = None) -> Institution:
    """Register an institution, or replace its key, name and AE title."""
    with database.session() as session:
        institution = session.get(Institution, code) or Institution(code=code, key_hash="")
        institution.key_hash = hash_key(key)
        institution.name = name if name is not None else institution.name
        institution.ae_title = ae_title if ae_title is not None else institution.ae_title
        session.add(institution)
    return institution


def list_institutions(database: Database) -> list[Institution]:
    with database.session() as session:
        return list(session.exec(select(Institution).order_by(Institution.code)))


def authenticate(repository: Repository, code: str, key: str | None) -> str:
    """The institution's code, if `key` is its key; otherwise the message is refused (2001)."""
    key_hash = repository.institution_key_hash(code)
    if key is None or key_hash is None or not _verified_keys.matches(key, key_hash):
        raise MieError(ResponseCode.unauthorized)
    return code


class UnknownInstitution(ValueError):
    pass


def network_of(text: str) -> str:
    """A network as the allow-list keeps it: an address is its own /32 (or /128); host bits are cleared."""
    return ipaddress.ip_network(text.strip(), strict=False).compressed


def allow_sources(database: Database, code: str, networks: list[str], remove: bool = False) -> list[str]:
    """Add (or remove) networks from which the institution may query (§2.6-§2.8) without a key; returns the
    allow-list afterwards. ValueError for a text that is not an address or network (nothing is changed)."""
    normalised = [network_of(text) for text in networks]
    with database.unit_of_work() as repository:
        if repository.institution_key_hash(code) is None:
            raise UnknownInstitution(f"机构 {code} 未登记")
        if remove:
            repository.remove_institution_sources(code, normalised)
        else:
            repository.add_institution_sources(code, normalised)
        return repository.institution_sources(code)


def institution_sources(database: Database, code: str) -> list[str]:
    with database.unit_of_work() as repository:
        return repository.institution_sources(code)


def institutions_by_ae_title(database: Database) -> dict[str, str]:
    """AE title -> institution code, for the DICOM SCP's calling AE check."""
    with database.session() as session:
        rows = session.exec(select(Institution.ae_title, Institution.code).where(Institution.ae_title.is_not(None)))  # type: ignore[union-attr]
        return {title: code for title, code in rows if title}
