"""Loading the contract: spec/openapi.yaml and its dictionaries.

Everything mie knows about fields, lengths, codes and messages is read from here; nothing else in the
code base keeps its own list.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def spec_dir() -> Path:
    """Where the contract lives (MIE_SPEC_DIR overrides, for a vendor's own copy of a revision)."""
    return Path(os.environ.get("MIE_SPEC_DIR") or REPO_ROOT / "spec")


# libyaml's safe loader when PyYAML has it: the same documents, read several times faster (the spec and its
# dictionaries took about half a second of every command's start-up with the pure-Python one).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


@functools.cache
def load_spec(path: Path | None = None) -> dict[str, Any]:
    """The OpenAPI document as written (with $refs); cached, so never mutate it: copy first."""
    return load_yaml(path or spec_dir() / "openapi.yaml")


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


@functools.cache
def resolved_spec() -> dict[str, Any]:
    spec = load_spec()
    return resolve_refs(spec, spec)


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


def transactions() -> Iterator[Transaction]:
    spec = resolved_spec()
    for path, item in spec["paths"].items():
        operation = item.get("post")
        if not operation or "x-infno" not in operation or "x-alias-of" in operation:
            continue  # an alias route (another spelling of a URL) is the same transaction
        content = operation["requestBody"]["content"]
        content_type, media = next(iter(content.items()))
        yield Transaction(
            infno=operation["x-infno"],
            path=path,
            operation_id=operation["operationId"],
            section=operation.get("x-section", ""),
            summary=operation.get("summary", ""),
            content_type=content_type,
            body_schema=media["schema"],
            envelope_in_headers=content_type.startswith("multipart/"),
        )


@functools.cache
def transaction(infno: str) -> Transaction:
    for candidate in transactions():
        if candidate.infno == infno:
            return candidate
    raise KeyError(infno)


def component(name: str) -> dict[str, Any]:
    """A resolved schema of components/schemas."""
    return resolved_spec()["components"]["schemas"][name]


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


@functools.cache
def max_length(*names: str) -> int:
    """The longest maxLength the spec gives any of the fields `names`, wherever they appear (following allOf):
    a database column that holds them must take every value some transaction accepts."""
    lengths = []
    for name in names:
        for schema in _field_schemas(resolved_spec(), name):
            for part in [schema, *schema.get("allOf", ())]:
                if "maxLength" in part:
                    lengths.append(part["maxLength"])
    if not lengths:
        raise KeyError(f"the spec gives no maxLength to {', '.join(names)}")
    return max(lengths)
