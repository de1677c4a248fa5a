"""Who may query (§2.6-§2.8): the document's query envelopes carry no key (ERRATA E-QUERY-KEY).

A query is served when its `fixmedinsCode` is a registered institution and either
- it carries a `key`, and the key is that institution's (checked whenever one is sent), or
- it carries none, the processor is not in strict mode (`--require-query-key`), and the request's source
  address is in that institution's allow-list (`mie institution allow CODE CIDR...`).

Every refusal is 2001 and says why, without telling an unregistered institution from an address that is
not allowed (as §2.1-§2.5 do not tell an unregistered institution from a wrong key).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from generated.models import ResponseCode
from mie.service.answers import MieError
from mie.service.envelope import Envelope
from mie.service.institutions import authenticate
from mie.store.repository import Repository

KEY_REQUIRED = "本前置机要求查询报文带密钥 key"


@dataclass(frozen=True)
class Caller:
    """An institution whose query is admitted, and how."""

    institution_code: str
    by_key: bool


class QueryRefused(MieError):
    """A query refused by access control (2001); `reason` is the audit's short word for it."""

    def __init__(self, detail: str | None, reason: str) -> None:
        super().__init__(ResponseCode.unauthorized, detail)
        self.reason = reason


def source_allowed(address: str | None, networks: list[str]) -> bool:
    """Whether `address` (as the server saw the client) is in one of `networks`; an IPv4 client seen through an
    IPv6 socket (::ffff:10.1.2.3) is its IPv4 address. Anything that is not an address is in none."""
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in networks)


def admit(repository: Repository, envelope: Envelope, source_address: str | None, require_key: bool) -> Caller:
    """The caller of a query, or QueryRefused."""
    code = envelope.institution_code
    if envelope.key is not None:
        try:
            authenticate(repository, code, envelope.key)
        except MieError:
            raise QueryRefused(None, "wrong key or institution") from None
        return Caller(code, by_key=True)
    if require_key:
        raise QueryRefused(KEY_REQUIRED, "no key (strict mode)")
    registered = repository.institution_key_hash(code) is not None
    if not registered or not source_allowed(source_address, repository.institution_sources(code)):
        detail = f"未带密钥 key, 且来源地址 {source_address or '未知'} 不在机构 {code} 的允许列表中 (或该机构未登记)"
        raise QueryRefused(detail, "address not allowed" if registered else "unregistered institution")
    return Caller(code, by_key=False)
