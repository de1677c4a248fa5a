"""The dictionaries of chapter 3 (and GA/T 2000.156-2016), one data file each under spec/dictionaries/.

They reach spec/openapi.yaml by one mechanism only: `bundle()` writes each field's `enum` (or, for a
field that holds several codes, its `pattern`) from the dictionary the field names in `x-dictionary`.
`mie generate` runs it; `mie generate --check` fails when the spec and the files disagree. The files are the
truth: what a revision's fields take is read from its dictionaries (validation, `mie spec diff`), and a directory
whose openapi.yaml says otherwise is stale (`stale_dictionaries`).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mie.contract.spec import load_yaml


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    anomaly: str | None = None
    also_printed_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dictionary:
    name: str
    title: str
    section: str
    codes: tuple[Code, ...]

    @functools.cached_property
    def code_set(self) -> frozenset[str]:
        return frozenset(code.code for code in self.codes)

    def describe(self, code: str) -> str | None:
        for entry in self.codes:
            if entry.code == code:
                return entry.name
        return None


def _read(path: Path) -> Dictionary:
    data = load_yaml(path)
    codes = tuple(
        Code(
            code=str(entry["code"]),
            name=str(entry["name"]),
            anomaly=entry.get("anomaly"),
            also_printed_as=tuple(entry.get("also_printed_as") or ()),
        )
        for entry in data["codes"]
    )
    return Dictionary(name=data["dictionary"], title=data["title"], section=str(data["section"]), codes=codes)


def read_dictionaries(directory: Path) -> dict[str, Dictionary]:
    found = (_read(path) for path in sorted(directory.glob("*.yaml")))
    return {dictionary.name: dictionary for dictionary in found}


def separator_class(separator: str) -> str:
    """A character class of the separators, escaped only where a class needs it: ECMAScript regular
    expressions in unicode mode (ajv, so Prism and most JavaScript validators) refuse needless escapes."""
    return "[" + "".join("\\" + c if c in "\\]^-" else c for c in separator) + "]"


def multi_code_pattern(codes: list[str], separator: str) -> str:
    """A pattern for one or more codes joined by any one character of `separator`."""
    alternatives = "|".join(re.escape(code) for code in sorted(codes, key=lambda c: (-len(c), c)))
    return f"^(?:{alternatives})(?:{separator_class(separator)}(?:{alternatives}))*$"


def _schemas_with_dictionary(node: Any, required: bool = True) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every schema that names a dictionary, with whether its field is required where it sits."""
    if isinstance(node, dict):
        if "x-dictionary" in node:
            yield node, required
        properties = node.get("properties")
        if isinstance(properties, dict):
            required_names = set(node.get("required") or ())
            for name, child in properties.items():
                yield from _schemas_with_dictionary(child, name in required_names)
        for key, child in node.items():
            if key != "properties":
                yield from _schemas_with_dictionary(child, required)
    elif isinstance(node, list):
        for item in node:
            yield from _schemas_with_dictionary(item, required)


def allowed_codes(schema: Mapping[str, Any], known: Mapping[str, Dictionary]) -> list[str]:
    """The codes a field takes: its dictionary's, plus the placeholders the document allows for it."""
    codes = [code.code for code in known[schema["x-dictionary"]].codes]
    return codes + [p for p in schema.get("x-placeholders", []) if p not in codes]


def bundle(spec: dict[str, Any], known: Mapping[str, Dictionary]) -> dict[str, Any]:
    """Write each dictionary field's enum or pattern from its dictionary file, in place."""
    for schema, required in _schemas_with_dictionary(spec):
        codes = allowed_codes(schema, known)
        separator = schema.get("x-separator")
        if separator:
            schema.pop("enum", None)
            pattern = multi_code_pattern(codes, separator)
            schema["pattern"] = pattern if required else f"^$|{pattern}"
        else:
            schema.pop("pattern", None)
            schema["enum"] = codes if required else ["", *codes]
    return spec


def stale_dictionaries(spec: Mapping[str, Any], known: Mapping[str, Dictionary]) -> list[str]:
    """The dictionaries whose codes the spec's fields do not carry as bundling them would write them (a file edited
    without `mie generate`), or that the spec names and `known` lacks; sorted, each once."""
    bundled = copy.deepcopy(dict(spec))
    missing = {schema["x-dictionary"] for schema, _ in _schemas_with_dictionary(bundled) if schema["x-dictionary"] not in known}
    if missing:
        return sorted(missing)
    bundle(bundled, known)
    stale = set()
    for (written, _), (wanted, _) in zip(_schemas_with_dictionary(spec), _schemas_with_dictionary(bundled), strict=True):
        if written.get("enum") != wanted.get("enum") or written.get("pattern") != wanted.get("pattern"):
            stale.add(wanted["x-dictionary"])
    return sorted(stale)


def bundled(spec: Mapping[str, Any], known: Mapping[str, Dictionary]) -> dict[str, Any]:
    """A copy of the spec with its dictionaries bundled (the spec itself, copied, when there are none to bundle)."""
    copied = copy.deepcopy(dict(spec))
    return bundle(copied, known) if known else copied
