"""Loading the contract: spec/openapi.yaml and its dictionaries, as one value.

Everything mie knows about fields, lengths, codes and messages is read from a `Contract`; nothing else in
the code base keeps its own list. A contract is a value: `mie spec diff` holds two revisions at once,
`mie conformance --spec` a vendor's revision beside the bundled one. The processor serves one contract,
`current()` (the bundled spec, or the copy `MIE_SPEC_DIR` names), which its runtime passes to the services.
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

if TYPE_CHECKING:
    from mie.contract.dictionaries import Dictionary
    from mie.contract.index import IndexRule
    from mie.contract.validation import Validator

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
# spec/ of the checkout; in an installed wheel, the copy inside the package (mie/spec, a link to ../spec in the
# checkout, is the package data that carries it: pyproject.toml)
BUNDLED_SPEC_DIR = (
    REPO_ROOT / "spec" if (REPO_ROOT / "spec" / "openapi.yaml").is_file() else Path(__file__).resolve().parents[1] / "spec"
)


def spec_dir() -> Path:
    """Where the processor's contract lives (MIE_SPEC_DIR overrides, for a vendor's own copy of a revision)."""
    return Path(os.environ.get("MIE_SPEC_DIR") or BUNDLED_SPEC_DIR)


# libyaml's safe loader when PyYAML has it: the same documents, read several times faster (the spec and its
# dictionaries took about half a second of every command's start-up with the pure-Python one).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def resolve_refs(node: Any, root: Mapping[str, Any]) -> Any:
    """A deep copy of `node` with every local `$ref` inlined (the spec has no recursive schemas)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve_refs(target, root)
        return {key: resolve_refs(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_refs(item, root) for item in node]
    return copy.copy(node)


@dataclass(frozen=True)
class Transaction:
    """One transaction of chapter 2, as the spec's paths describe it."""

    infno: str
    path: str
    operation_id: str
    section: str
    summary: str
    content_type: str
    body_schema: dict[str, Any]
    envelope_in_headers: bool


def _field_schemas(node: Any, name: str) -> Iterator[dict[str, Any]]:
    """Every schema the resolved spec gives a field called `name`: object properties and header parameters."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict) and isinstance(properties.get(name), dict):
            yield properties[name]
        if node.get("in") == "header" and node.get("name") == name and isinstance(node.get("schema"), dict):
            yield node["schema"]
        for value in node.values():
            yield from _field_schemas(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _field_schemas(item, name)


class Contract:
    """One revision of the interface, loaded: the OpenAPI document (as written and with its $refs resolved),
    its transactions, components, dictionaries, the hiImgIndx rule, and the validators compiled from them.

    `strict` (`--strict` of mie serve and mie validate) makes every warning an error; `strictly()` gives the
    same revision with another strictness, sharing what was loaded. Never mutate `document` or `resolved`:
    copy first.
    """

    def __init__(
        self, document: dict[str, Any], dictionaries: dict[str, Dictionary], location: Path | None = None, strict: bool = False
    ) -> None:
        self.document = document
        self.dictionaries = dictionaries
        self.location = location
        self.strict = strict
        self._memo: dict[str, Any] = {}
        self._lock = threading.RLock()

    @classmethod
    def load(cls, location: Path | str, strict: bool = False) -> Contract:
        """A contract from a spec directory (openapi.yaml + dictionaries/) or from an openapi.yaml, whose
        dictionaries are the `dictionaries/` beside it when there is one (a bundled spec carries its codes)."""
        from mie.contract.dictionaries import read_dictionaries

        path = Path(location)
        spec_file = path / "openapi.yaml" if path.is_dir() else path
        dictionary_dir = spec_file.parent / "dictionaries"
        dictionaries = read_dictionaries(dictionary_dir) if dictionary_dir.is_dir() else {}
        return cls(load_yaml(spec_file), dictionaries, spec_file, strict)

    def strictly(self, strict: bool = True) -> Contract:
        if strict == self.strict:
            return self
        other = Contract(self.document, self.dictionaries, self.location, strict)
        other.__dict__["resolved"] = self.resolved  # shared: both are read-only
        return other

    def __repr__(self) -> str:
        return f"Contract({self.location or '<memory>'}, version={self.version!r}, strict={self.strict})"

    @functools.cached_property
    def stale_dictionaries(self) -> list[str]:
        """The dictionaries whose codes this revision's openapi.yaml does not carry as its dictionaries/ say (none:
        they agree, or there are no files). The files are the truth: validation and `mie spec diff` read them."""
        from mie.contract.dictionaries import stale_dictionaries

        return stale_dictionaries(self.document, self.dictionaries) if self.dictionaries else []

    def stale_note(self) -> str | None:
        """One line naming a stale openapi.yaml, for the tools to say; None when it agrees with its dictionaries."""
        if not self.stale_dictionaries:
            return None
        names = ", ".join(self.stale_dictionaries)
        return f"{self.location}: 与 dictionaries/ 不一致 (字典 {names}), 以 dictionaries/ 为准; 运行 mie generate 更新"

    @property
    def version(self) -> str:
        return str(self.document.get("info", {}).get("version", ""))

    @functools.cached_property
    def resolved(self) -> dict[str, Any]:
        return resolve_refs(self.document, self.document)

    @functools.cached_property
    def transactions(self) -> tuple[Transaction, ...]:
        found = []
        for path, item in self.resolved["paths"].items():
            operation = item.get("post")
            if not operation or "x-infno" not in operation or "x-alias-of" in operation:
                continue  # an alias route (another spelling of a URL) is the same transaction
            content = operation["requestBody"]["content"]
            content_type, media = next(iter(content.items()))
            found.append(
                Transaction(
                    infno=operation["x-infno"],
                    path=path,
                    operation_id=operation["operationId"],
                    section=operation.get("x-section", ""),
                    summary=operation.get("summary", ""),
                    content_type=content_type,
                    body_schema=media["schema"],
                    envelope_in_headers=content_type.startswith("multipart/"),
                )
            )
        return tuple(found)

    def transaction(self, infno: str) -> Transaction:
        for candidate in self.transactions:
            if candidate.infno == infno:
                return candidate
        raise KeyError(infno)

    def operation(self, transaction: Transaction) -> dict[str, Any]:
        """The transaction's operation as written (with $refs)."""
        return self.document["paths"][transaction.path]["post"]

    def component(self, name: str) -> dict[str, Any]:
        """A resolved schema of components/schemas."""
        return self.resolved["components"]["schemas"][name]

    def dictionary(self, name: str) -> Dictionary:
        return self.dictionaries[name]

    def validator(self, schema_name: str) -> Validator:
        """The compiled validator of a `components/schemas` entry, compiled once per contract."""
        return self.memo(f"validator:{schema_name}", lambda: self.validator_of(self.component(schema_name)))

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """What `build` derives from this contract, built once per contract (a service's tables, a derived
        validator): the contract's answer to a module-level cache, which would hold one revision only."""
        try:
            return self._memo[key]
        except KeyError:
            with self._lock:
                if key not in self._memo:
                    self._memo[key] = build()
                return self._memo[key]

    def validator_of(self, schema: Mapping[str, Any]) -> Validator:
        """A validator of any resolved schema of this contract (its dictionaries, index rule and strictness)."""
        from mie.contract.validation import Validator

        return Validator(schema, self)

    @functools.cached_property
    def index(self) -> IndexRule:
        """The hiImgIndx rule of §1.2, as this revision describes its parts."""
        from mie.contract.index import IndexRule

        return IndexRule(self.component("HiImgIndx"))

    def max_length(self, *names: str) -> int:
        """The longest maxLength the spec gives any of the fields `names`, wherever they appear (following allOf):
        a database column that holds them must take every value some transaction accepts."""
        lengths = []
        for name in names:
            for schema in _field_schemas(self.resolved, name):
                for part in [schema, *schema.get("allOf", ())]:
                    if "maxLength" in part:
                        lengths.append(part["maxLength"])
        if not lengths:
            raise KeyError(f"the spec gives no maxLength to {', '.join(names)}")
        return max(lengths)


_loaded: dict[Path, Contract] = {}
_loaded_lock = threading.Lock()


def current() -> Contract:
    """The processor's contract: the spec in `spec_dir()`, loaded once per process."""
    directory = spec_dir().resolve()
    with _loaded_lock:
        contract = _loaded.get(directory)
        if contract is None:
            contract = _loaded[directory] = Contract.load(directory)
    return contract
