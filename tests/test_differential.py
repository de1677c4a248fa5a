"""The contract means the same in every tool: mie's validator against standard JSON Schema validators.

Cases are drawn from the spec: valid ones from each schema by schemathesis' JSON Schema generator (hypothesis,
derandomized), broken ones by mutating each drawn case at one field (missing, null, empty, another type, a trailing
newline, other digits, any text), the negative request bodies of schemathesis' GenerationMode.NEGATIVE, the
targeted breakages of tests/spec_cases.py (every field missing, too long, outside its dictionary, not its format),
and each field of the spec's examples sent under its alias, null, empty, as a number, with other digits.
Each case is judged three ways:

- mie: the contract's validator for a record, the envelope's and then each record's own check (as the
  transaction does) for a request body, `header_envelope_schema` for §2.2/§2.4's request headers. Accepted = no
  error-severity finding; warnings and information are accepted (they are the mie-only relaxations of `x-relax`,
  named below);
- jsonschema: the OpenAPI 3.0 schema (for headers: the parameters' schemas and `required`) converted to JSON Schema
  draft-07 (`nullable` to a `null` type, `x-` keys and OpenAPI-only keywords dropped), patterns evaluated as ECMA-262
  regular expressions (what JSON Schema says they are; jsonschema's own `re.search` lets `$` match before a final
  newline and `\\d` match any Unicode digit);
- ajv 8 through node, on the same JSON Schema, all cases in one node process (`tests/ajv_judge.cjs`).

A disagreement is allowed only where one of the mie-only rules of spec/ERRATA.md ("mie-only rules") explains it,
and only when the case exercises that rule at the very place the two verdicts differ: every error mie finds that
the standard validators do not is checked to be one of those rules, and so is every error they find that mie
does not. Anything else fails the test, with the case.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import regress
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, ValidationError, validators
from schemathesis import GenerationMode
from schemathesis.generation.jsonschema.builder import build  # schemathesis is pinned (pyproject.toml)
from schemathesis.transport.serialization import Binary

from mie.contract import current
from mie.contract.records import check_delete_item, check_images_input
from mie.contract.spec import REPO_ROOT, resolve_refs
from mie.contract.validation import FieldError, Outcome, merge_all_of
from mie.service.uploads import header_envelope_schema
from tests.spec_cases import MISSING, RECORD_SCHEMAS, breakages

CONTRACT = current()

AJV_VERSION = "8.20.0"
NODE_DIR = Path(__file__).resolve().parent / ".node"  # npm --prefix, gitignored (as bench/ installs Prism)
AJV_JUDGE = Path(__file__).resolve().parent / "ajv_judge.cjs"
ERRATA = REPO_ROOT / "spec" / "ERRATA.md"
EXAMPLES = 40  # valid cases drawn per record schema
BODY_EXAMPLES = 15  # per request body (a §2.1 body holds up to 1000 records, each drawn: slow to draw)
MUTATIONS = 3  # broken cases made from each drawn one

RECORDS = RECORD_SCHEMAS

# --------------------------------------------------------------------------------------- OpenAPI 3.0 -> JSON Schema

_KEPT = {
    "type", "enum", "const", "pattern", "maxLength", "minLength", "minimum", "maximum", "multipleOf",
    "minItems", "maxItems", "uniqueItems", "required", "minProperties", "maxProperties", "title", "description",
    "default",
}  # fmt: skip
_OPENAPI_FORMATS = {"binary", "byte"}  # OpenAPI's, not JSON Schema's (a file part; base64 text)
_OPENAPI_ONLY = {"nullable", "example", "examples", "discriminator", "readOnly", "writeOnly", "deprecated", "externalDocs"}


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """A resolved OpenAPI 3.0 schema as JSON Schema draft-07: `nullable` becomes a `null` type (and a null among an
    enum's values), `x-` keys, `example`, `discriminator` and OpenAPI-only formats are dropped."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: to_json_schema(child) for name, child in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(child) for child in value]
        elif key == "additionalProperties" or key in _KEPT:
            out[key] = value
        elif key == "format":
            if value not in _OPENAPI_FORMATS:
                out[key] = value
        elif not key.startswith("x-") and key not in _OPENAPI_ONLY:
            # a keyword this conversion does not know (OpenAPI 3.0's boolean exclusiveMinimum, say) must be
            # converted here, not dropped: dropping it would hide a rule from the comparison
            raise AssertionError(f"convert the schema keyword {key!r} to JSON Schema")
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@functools.cache
def ecma(pattern: str) -> regress.Regex:
    return regress.Regex(pattern, "u")  # the flag ajv compiles patterns with


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and ecma(pattern).find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


StandardValidator = validators.extend(Draft7Validator, {"pattern": _ecma_pattern})


def ecma_fullmatch(pattern: str, text: str) -> bool:
    return ecma(f"^(?:{pattern})$").find(text) is not None


# ------------------------------------------------------------------------------------------------------- targets


@dataclass
class Target:
    """A schema cases are drawn from, with mie's way of judging a value of it."""

    name: str
    schema: dict[str, Any]  # resolved OpenAPI
    examples: list[Any]  # the spec's
    judge: Callable[[Any], MieVerdict]
    standard: dict[str, Any] | None = None  # what the standard validators read, when not `schema` itself
    json_schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        source = self.standard if self.standard is not None else self.schema
        self.json_schema = {"$schema": "http://json-schema.org/draft-07/schema#", **to_json_schema(source)}


@dataclass
class MieVerdict:
    errors: list[tuple[tuple[str | int, ...], FieldError]]
    advisories: list[tuple[tuple[str | int, ...], FieldError]]

    @property
    def accepted(self) -> bool:
        return not self.errors


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> tuple[str | int, ...]:
    return tuple(int(index) if index else name for name, index in _PATH_PART.findall(text))


def _verdict(outcome: Outcome, prefix: tuple[str | int, ...] = ()) -> MieVerdict:
    return MieVerdict(
        [((*prefix, *parse_path(e.path)), e) for e in outcome.errors],
        [((*prefix, *parse_path(e.path)), e) for e in outcome.advisories],
    )


def _record_judge(name: str) -> Callable[[Any], MieVerdict]:
    return lambda value: _verdict(CONTRACT.validator(name).validate(value))


def _delete_item(item: Any, place: tuple[str | int, ...]) -> MieVerdict:
    errors = check_delete_item(CONTRACT, item).errors
    # a bare index is the item itself; an object's errors name its hiImgIndx
    return MieVerdict([((*place, *parse_path(e.path)[1 if isinstance(item, str) else 0 :]), e) for e in errors], [])


# Each record of a message is checked by its transaction, as the services do it (the envelope check leaves `input`
# to them: `x-per-record`). A body is accepted when its envelope and every record are.
_RECORD_CHECKS: dict[str, Callable[[Any], MieVerdict]] = {
    "saveExamRpotImgInfo": lambda records: _each(records, _record_judge("ExamRpotImgInfo")),
    "saveImgInfo": lambda records: _each(records, _record_judge("ImgInfo")),
    "deleteExamRpotImgIdxInfo": lambda items: _merge(_delete_item(item, ("input", i)) for i, item in enumerate(items)),
    "queryExamRpotImgIndxListFHospital": lambda value: _verdict(
        CONTRACT.validator("QueryExamRpotImgIndxListInput").validate(value, "input")
    ),
    "queryImgCaheFIndex": lambda value: _verdict(check_images_input(CONTRACT, value)),
}


def _each(records: list[Any], judge: Callable[[Any], MieVerdict]) -> MieVerdict:
    verdicts = []
    for i, record in enumerate(records):
        one = judge(record)
        place = ("input", i)
        verdicts.append(MieVerdict([((*place, *p), e) for p, e in one.errors], [((*place, *p), e) for p, e in one.advisories]))
    return _merge(verdicts)


def _merge(verdicts: Any) -> MieVerdict:
    merged = MieVerdict([], [])
    for verdict in verdicts:
        merged.errors += verdict.errors
        merged.advisories += verdict.advisories
    return merged


def _body_judge(infno: str, schema: dict[str, Any]) -> Callable[[Any], MieVerdict]:
    envelope = CONTRACT.validator_of(schema)

    def judge(value: Any) -> MieVerdict:
        outcome = envelope.validate(value)
        verdict = _verdict(outcome)
        if outcome.errors:
            return verdict
        records = _RECORD_CHECKS[infno](outcome.value["input"])
        return _merge([verdict, records])

    return judge


def _form_example(schema: dict[str, Any]) -> dict[str, Any]:
    files = {code: "<file>" for code, child in schema["properties"].items() if child.get("format") == "binary"}
    return {**schema["example"], **files}


@functools.cache
def targets() -> dict[str, Target]:
    found: dict[str, Target] = {}
    for name in RECORDS:
        schema = CONTRACT.component(name)
        found[name] = Target(name, schema, [_form_example(schema)], _record_judge(name))
    spec = CONTRACT.document
    for one in CONTRACT.transactions:
        if one.envelope_in_headers:
            found[f"{one.infno} headers"] = _headers_target(one.infno)
            continue  # §2.2/§2.4: their bodies are the forms above
        media = spec["paths"][one.path]["post"]["requestBody"]["content"][one.content_type]
        # §2.7/§2.8 share a URL and give one example each
        examples = [media["example"]] if "example" in media else [one["value"] for one in media["examples"].values()]
        judge = _body_judge(one.infno, one.body_schema)
        found[one.infno] = Target(one.infno, one.body_schema, examples, judge)
    return found


def _headers_target(infno: str) -> Target:
    """§2.2/§2.4's envelope, in request headers: mie checks them as one object (`header_envelope_schema`, each header
    required, an alias standing for its header); the standard validators read the OpenAPI parameters as they are,
    each header by its schema and `required`."""
    operation = resolve_refs(CONTRACT.document["paths"][CONTRACT.transaction(infno).path]["post"], CONTRACT.document)
    headers = [parameter for parameter in operation["parameters"] if parameter["in"] == "header"]
    standard = {
        "type": "object",
        "properties": {parameter["name"]: parameter["schema"] for parameter in headers},
        "required": [parameter["name"] for parameter in headers if parameter.get("required")],
    }
    example = {parameter["name"]: parameter["example"] for parameter in headers}
    envelope = CONTRACT.validator_of(header_envelope_schema(CONTRACT, infno))
    return Target(
        f"{infno} headers", header_envelope_schema(CONTRACT, infno), [example], lambda v: _verdict(envelope.validate(v)), standard
    )


# --------------------------------------------------------------------------------------------------------- cases


def _leaf_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _leaf_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:2]):
            paths += _leaf_paths(child, (*prefix, i))
    return paths


def _put(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    changed = copy.deepcopy(value)
    target = changed
    for part in path[:-1]:
        target = target[part]
    if new is MISSING:
        if isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            del target[path[-1]]
    else:
        target[path[-1]] = new
    return changed


_OTHER_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")  # Arabic-Indic: Unicode digits, not ECMA-262 \d
_ANY = [MISSING, None, "", " ", 0, -1, 35.55, 1e-7, 1000.0, 10**7, True, [], {}, "X", "不是", "0" * 101]


def _variants(old: Any) -> list[Any]:
    """What a field is broken into: missing, null, empty, another type, or its own text made subtly wrong."""
    if not isinstance(old, str) or not old:
        return _ANY
    subtle = [old + "\n", " " + old, old + " ", old.translate(_OTHER_DIGITS), old.lower(), old[:-1], old + old[-1], old + ",0"]
    return _ANY + subtle


def mutated(value: Any, rng: random.Random) -> Any:
    """`value` with one field (or item) broken one way, chosen by `rng`."""
    paths = _leaf_paths(value)
    if not paths:
        return rng.choice(_variants(value))
    path = rng.choice(paths)
    new = rng.choice(_variants(value_at(value, path)))
    return value if new is MISSING and isinstance(path[-1], int) else _put(value, path, new)


def _aliased(value: Any, schema: dict[str, Any]) -> Iterator[Any]:
    """The value with each field that has aliases sent under its first alias, and under both with different values."""
    if not isinstance(value, dict):
        return
    for code, child in schema.get("properties", {}).items():
        for alias in child.get("x-aliases", ())[:1]:
            if code in value:
                renamed = dict(value)
                renamed[alias] = renamed.pop(code)
                yield renamed
                yield {**value, alias: f"{value[code]}X" if isinstance(value[code], str) else "X"}


def targeted_cases(target: Target) -> list[Any]:
    """The spec's own example, each single-rule breakage tests/spec_cases.py derives for a record, and each field
    of the example sent under its alias, null, empty, with a trailing newline or other digits."""
    return [case for example in target.examples for case in _targeted(target, example)]


def _targeted(target: Target, example: Any) -> list[Any]:
    cases: list[Any] = [example]
    if target.name in RECORDS:
        cases += [case.apply(example) for case in breakages(target.name)]
    record_places: list[tuple[tuple[str | int, ...], dict[str, Any]]] = [((), target.schema)]
    if target.name not in RECORDS and isinstance(example.get("input"), list) and example["input"]:
        items = target.schema["properties"]["input"].get("items", {})
        record_places.append((("input", 0), items))
    elif target.name not in RECORDS and isinstance(example.get("input"), dict):
        record_places.append((("input",), target.schema["properties"]["input"]))
    for place, schema in record_places:
        record: Any = example
        for part in place:
            record = record[part]
        branches = schema.get("oneOf") or schema.get("allOf") or [schema]
        for branch in branches:
            for renamed in _aliased(record, branch):
                cases.append(_put(example, place, renamed) if place else renamed)
        if not isinstance(record, dict):
            continue
        codes = {code for branch in branches for code in merge_all_of(branch).get("properties", {})}
        for code in sorted(codes):  # every field of the table, also those the example leaves out
            old = record.get(code)
            news: list[Any] = [MISSING, None, "", 5, "X\n"]
            if isinstance(old, str):
                news += [old + "\n", old.translate(_OTHER_DIGITS)]
            cases += [_put(example, (*place, code), new) for new in news]
    return cases


# Random digits are seldom a real day, so most drawn cases would be refused for their dates alone: half are drawn
# with these shapes instead, days 01-28 and an index time of this century, so that mie accepts many of them.
_REAL_DAYS = {
    "(?:0[1-9]|[12][0-9]|3[01])": "(?:0[1-9]|1[0-9]|2[0-8])",
    "(?:[0-9]{14})": "(?:20[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9])",
}


def _drawing_schema(target: Target, real_days: bool) -> dict[str, Any]:
    """The schema cases are drawn from: a body's `input` holds at most 2 records (each record schema is drawn on its
    own as well; 1000 of them would only make drawing slow)."""
    text = json.dumps(target.json_schema)
    if real_days:
        for shape, real in _REAL_DAYS.items():
            text = text.replace(json.dumps(shape)[1:-1], json.dumps(real)[1:-1])
    schema = json.loads(text)
    records = schema.get("properties", {}).get("input", {})
    if records.get("type") == "array":
        records["maxItems"] = 2
    return schema


def drawn_cases(target: Target) -> list[Any]:
    """Valid cases drawn from the schema by schemathesis' JSON Schema generator (ECMA-262 patterns; derandomized:
    the same cases on every run), and each of them broken at one field, by a seeded choice."""
    examples = EXAMPLES if target.name in RECORDS else BODY_EXAMPLES
    drawn: list[Any] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(*(build(_drawing_schema(target, real_days), draft=7, formats={}) for real_days in (False, True))))
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    rng = random.Random(target.name)
    return drawn + [mutated(value, rng) for value in drawn for _ in range(MUTATIONS)]


# Negative request bodies as schemathesis makes them (GenerationMode.NEGATIVE: each breaks the schema somewhere).
# Not §2.1's: its negative generation takes about 2 s a case (the examPart pattern alone is 10 kB); its records are
# broken above instead.
NEGATIVE_EXAMPLES = 12
_SLOW_NEGATIVE = {"saveExamRpotImgInfo"}


def negative_cases() -> dict[str, list[Any]]:
    """Target name -> the bodies schemathesis' negative generation drew for it (derandomized)."""
    spec = CONTRACT.document
    operations = {result.ok().path: result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations()}
    found: dict[str, list[Any]] = {}
    for one in CONTRACT.transactions:
        if one.infno in _SLOW_NEGATIVE:
            continue
        name = one.infno
        if one.envelope_in_headers:  # the body is the form, a component of its own
            name = next(record for record in RECORDS if CONTRACT.component(record) == one.body_schema)
        found.setdefault(name, []).extend(_negative_bodies(operations[one.path]))
    return found


def _negative_bodies(operation: Any) -> list[Any]:
    drawn: list[Any] = []

    @settings(
        max_examples=NEGATIVE_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def collect(case: Any) -> None:
        drawn.append(_as_received(case.body))

    collect()
    return drawn


def _as_received(body: Any) -> Any:
    """A form's file part as the transaction hands it to the validator (`check_form`: a file is "<file>")."""
    if isinstance(body, (Binary, bytes)):
        return "<file>"
    if isinstance(body, dict):
        return {key: _as_received(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_as_received(value) for value in body]
    return body


# ------------------------------------------------------------------------------------------------------ the rules


@dataclass(frozen=True)
class MieOnlyRule:
    """A rule of the contract that a JSON Schema validator cannot apply: listed in spec/ERRATA.md under its ID."""

    erratum: str
    keyword: str  # the spec's extension keyword that carries it


CALENDAR = MieOnlyRule("E-MIE-CALENDAR", "x-format")
INDEX_DATE = MieOnlyRule("E-MIE-INDEX-DATE", "x-parser")
DECIMAL_SCALE = MieOnlyRule("E-MIE-DECIMAL-SCALE", "x-decimal")
ALIASES = MieOnlyRule("E-MIE-ALIASES", "x-aliases")
RELAX = MieOnlyRule("E-MIE-RELAX", "x-relax")
RULES = [CALENDAR, INDEX_DATE, DECIMAL_SCALE, ALIASES, RELAX]


def schema_at(schema: dict[str, Any], root: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    """The OpenAPI schema of the value at `path` (a oneOf branch chosen as the value's shape and properties say)."""
    value = root
    for part in path:
        schema = merge_all_of(schema)
        if "oneOf" in schema:
            schema = _branch(schema["oneOf"], value)
        if isinstance(part, int):
            schema = schema.get("items", {})
        else:
            schema = merge_all_of(schema).get("properties", {}).get(part, {})
        value = value[part] if _has(value, part) else None
    schema = merge_all_of(schema)
    return _branch(schema["oneOf"], value) if "oneOf" in schema else schema


def _branch(branches: list[dict[str, Any]], value: Any) -> dict[str, Any]:
    for branch in map(merge_all_of, branches):
        if isinstance(value, str) and branch.get("type") == "string":
            return branch
        if isinstance(value, dict) and branch.get("type") == "object":
            enum = branch["properties"].get("serviceName", {}).get("enum")
            if enum is None or value.get("serviceName") in enum:
                return branch
    return {}


def _has(value: Any, part: str | int) -> bool:
    if isinstance(part, int):
        return isinstance(value, list) and 0 <= part < len(value)
    return isinstance(value, dict) and part in value


def value_at(root: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if not _has(root, part):
            return MISSING
        root = root[part]
    return root


_STRPTIME = {"yyyy-MM-dd": "%Y-%m-%d", "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S"}


def _not_a_date(text: str, shape: str) -> bool:
    try:
        datetime.strptime(text, shape)
    except ValueError:
        return True
    return False


def _fraction_digits(number: int | float) -> int:
    try:
        exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    except InvalidOperation:
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _aliases_of(schema: dict[str, Any]) -> dict[str, str]:
    return {alias: code for code, child in schema.get("properties", {}).items() for alias in child.get("x-aliases", ())}


def explain_mie_error(target: Target, value: Any, path: tuple[str | int, ...], error: FieldError) -> MieOnlyRule | None:
    """The mie-only rule behind an error mie finds and the standard validators do not, if the case exercises it."""
    schema = schema_at(target.schema, value, path)
    here = value_at(value, path)
    if error.rule == "format" and "x-format" in schema and isinstance(here, str):
        # the text has the format's shape (the standard validators' pattern) but the calendar has no such day
        if ecma_fullmatch(schema["pattern"], here) and _not_a_date(here, _STRPTIME[schema["x-format"]]):
            return CALENDAR
    if error.rule == "index" and schema.get("x-parser") == "hiImgIndx" and isinstance(here, str):
        # a well-formed index whose part 3 (yyyyMMddHHmmss) is no real time
        if ecma_fullmatch(schema["pattern"], here) and _not_a_date(here.split("-")[2], "%Y%m%d%H%M%S"):
            return INDEX_DATE
    if error.rule in ("decimal", "type") and "x-decimal" in schema:
        # a JSON number within the bounds the standard validators check, with more decimals than the scale
        scale = int(schema["x-decimal"].get("scale", 0))
        if isinstance(here, (int, float)) and not isinstance(here, bool) and _fraction_digits(here) > scale:
            return DECIMAL_SCALE
    if path and target.standard is not None:
        parent, owner = value_at(value, path[:-1]), schema_at(target.schema, value, path[:-1])
        aliases = [alias for alias, code in _aliases_of(owner).items() if code == path[-1]]
        if not _has(parent, path[-1]) and aliases:
            if any(_has(parent, alias) for alias in aliases):
                return ALIASES  # read from the alias header, which the standard validators ignore as unknown
            if error.rule == "required" and path[-1] not in target.standard.get("required", ()):
                return ALIASES  # the spec leaves the header optional because its alias may stand for it: one is needed
    if error.rule == "alias":
        parent = value_at(value, path[:-1])
        owner = schema_at(target.schema, value, path[:-1])
        sent = [alias for alias, code in _aliases_of(owner).items() if code == path[-1] and _has(parent, alias)]
        if sent and _has(parent, path[-1]) and any(parent[alias] != parent[path[-1]] for alias in sent):
            return ALIASES
    return None


def _required_name(error: ValidationError) -> str:
    match = re.match(r"^'(.*)' is a required property$", error.message)
    assert match, error.message
    return match.group(1)


def explain_standard_error(target: Target, value: Any, error: ValidationError, mie: MieVerdict) -> MieOnlyRule | None:
    """The mie-only rule behind an error the standard validators find and mie does not, if the case exercises it."""
    path = tuple(error.absolute_path)
    if error.validator in ("anyOf", "oneOf"):
        # explained when, in some branch, each error is explained
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or ():
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        for errors in by_branch.values():
            reasons = [explain_standard_error(target, value, sub, mie) for sub in errors]
            if reasons and all(reasons):
                return reasons[0]
        return None
    schema = schema_at(target.schema, value, path)
    if path and any(relax.get("rule") == "required" for relax in schema.get("x-relax", ())):
        # a required field sent as null or "" counts as missing, and missing with its when-absent fields a warning
        if any(p == path and f.rule == "required" for p, f in mie.advisories) and value_at(value, path) in (None, ""):
            return RELAX
    if error.validator == "required":
        name = _required_name(error)
        if any(alias for alias, code in _aliases_of(schema).items() if code == name and _has(error.instance, alias)):
            return ALIASES  # sent under an alias, which mie reads as the field
        relaxed = [f for p, f in mie.advisories if p == (*path, name) and f.rule == "required"]
        if relaxed and any(relax.get("rule") == "required" for relax in schema["properties"][name].get("x-relax", ())):
            return RELAX  # required, but absent with its when-absent fields: a warning
        return None
    if error.validator == "additionalProperties":
        extra = [key for key in error.instance if key not in schema.get("properties", {})]
        return ALIASES if extra and all(key in _aliases_of(schema) for key in extra) else None
    if error.validator in ("enum", "pattern"):
        kinds = {"enum": ("dictionary",), "pattern": ("dictionary", "pattern")}[error.validator]
        relaxed = [f for p, f in mie.advisories if p == path and f.rule in kinds and f.severity != "error"]
        if relaxed and any(relax.get("rule") in kinds for relax in schema.get("x-relax", ())):
            return RELAX  # outside the dictionary or pattern, in the shape x-relax makes a warning
    return None


# --------------------------------------------------------------------------------------------------------- judges


def ajv_directory() -> Path | None:
    """ajv installed under tests/.node (npm --prefix); None, with the reason skipped, where node is absent."""
    package = NODE_DIR / "node_modules" / "ajv" / "package.json"
    if package.exists() and json.loads(package.read_text(encoding="utf-8"))["version"] == AJV_VERSION:
        return NODE_DIR if shutil.which("node") else None
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    NODE_DIR.mkdir(exist_ok=True)
    try:
        subprocess.run(
            ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "--no-save", f"ajv@{AJV_VERSION}"],
            check=True,
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        # Seen when npm cannot reach the registry over TLS: tox passes NODE_EXTRA_CA_CERTS for that (tox.ini)
        raise RuntimeError(f"npm could not install ajv@{AJV_VERSION} within 180 s: is the npm registry reachable?") from None
    return NODE_DIR


def ajv_verdicts(directory: Path, cases: list[tuple[Target, Any]]) -> list[bool]:
    schemas = {target.name: target.json_schema for target in targets().values()}
    lines = [json.dumps({"schemas": schemas}, ensure_ascii=True)]
    lines += [json.dumps({"schema": target.name, "value": value}, ensure_ascii=True) for target, value in cases]
    done = subprocess.run(
        ["node", str(AJV_JUDGE), str(directory)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines() if line]
    assert len(answers) == len(cases), done.stderr
    return [answer["valid"] for answer in answers]


@dataclass
class Judged:
    target: Target
    value: Any
    mie: MieVerdict
    standard: list[ValidationError]
    ajv: bool | None = None
    unexplained: list[str] = field(default_factory=list)
    explained_by: set[str] = field(default_factory=set)

    def describe(self) -> str:
        return (
            f"{self.target.name}: mie {'accepts' if self.mie.accepted else 'refuses'}, jsonschema "
            f"{'accepts' if not self.standard else 'refuses'}, ajv {self.ajv}; unexplained: {self.unexplained}\n"
            f"  case: {json.dumps(self.value, ensure_ascii=False)[:600]}"
        )


def judge(target: Target, value: Any) -> Judged:
    validator = _standard(target.name)
    judged = Judged(target, value, target.judge(value), list(validator.iter_errors(value)))
    standard_accepts = not judged.standard
    if judged.mie.accepted and not standard_accepts:
        for error in judged.standard:
            rule = explain_standard_error(target, value, error, judged.mie)
            if rule is None:
                judged.unexplained.append(f"jsonschema: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
            else:
                judged.explained_by.add(rule.erratum)
    elif not judged.mie.accepted and standard_accepts:
        for path, error in judged.mie.errors:
            rule = explain_mie_error(target, value, path, error)
            if rule is None:
                judged.unexplained.append(f"mie: {error} [{error.rule}]")
            else:
                judged.explained_by.add(rule.erratum)
    return judged


@functools.cache
def _standard(name: str) -> Any:
    schema = targets()[name].json_schema
    StandardValidator.check_schema(schema)
    return StandardValidator(schema)


@pytest.fixture(scope="module")
def judged() -> tuple[list[Judged], dict[str, float]]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cases: list[tuple[Target, Any]] = []
    negative = negative_cases()
    for target in targets().values():
        cases += [(target, value) for value in targeted_cases(target)]
        cases += [(target, value) for value in drawn_cases(target)]
        cases += [(target, value) for value in negative.get(target.name, [])]
    timings["draw"] = time.perf_counter() - started
    started = time.perf_counter()
    results = [judge(target, value) for target, value in cases]
    timings["mie+jsonschema"] = time.perf_counter() - started
    directory = ajv_directory()
    if directory is not None:
        started = time.perf_counter()
        for result, valid in zip(results, ajv_verdicts(directory, cases), strict=True):
            result.ajv = valid
        timings["ajv"] = time.perf_counter() - started
    timings["cases"] = len(cases)
    return results, timings


# ---------------------------------------------------------------------------------------------------------- tests


def test_the_converted_schemas_are_json_schema() -> None:
    for target in targets().values():
        StandardValidator.check_schema(target.json_schema)
        keys = set(_keys(target.json_schema))
        assert not {key for key in keys if key.startswith("x-")} | (keys & {"nullable", "example", "discriminator"})


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "properties":
                yield key
            else:
                for child in value.values():
                    yield from _keys(child)
                continue
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_every_case_means_the_same_to_mie_and_jsonschema(judged: tuple[list[Judged], dict[str, float]]) -> None:
    results, timings = judged
    print(f"differential: {timings}")
    unexplained = [result for result in results if result.unexplained]
    listed = "\n".join(r.describe() for r in unexplained[:15])
    assert not unexplained, f"{len(unexplained)} case(s) judged differently:\n{listed}"


def test_every_case_means_the_same_to_ajv(judged: tuple[list[Judged], dict[str, float]]) -> None:
    results, _ = judged
    if results[0].ajv is None:
        reason = "node (and npm, to install ajv) not found: the ajv half is not run"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run it")
        pytest.skip(reason)
    # the two standard validators agree with each other (the conversion and the pattern flavour are right) ...
    between = [r for r in results if r.ajv != (not r.standard)]
    assert not between, "ajv and jsonschema disagree:\n" + "\n".join(r.describe() for r in between[:15])
    # ... so where ajv differs from mie, the difference is one the jsonschema half has explained
    differing = [r for r in results if r.ajv != r.mie.accepted]
    assert all(r.explained_by and not r.unexplained for r in differing)


def test_both_kinds_of_case_are_drawn(judged: tuple[list[Judged], dict[str, float]]) -> None:
    """Every schema gets cases mie accepts and cases it refuses: the comparison is not made on one side only."""
    results, _ = judged
    for target in targets().values():
        verdicts = {r.mie.accepted for r in results if r.target is target}
        assert verdicts == {True, False}, target.name


def test_every_mie_only_rule_is_listed_and_exercised(judged: tuple[list[Judged], dict[str, float]]) -> None:
    """Each excuse the test allows is an entry of ERRATA's mie-only rules naming its keyword, and the cases reach it
    (an excuse no case needs is a rule the test no longer checks)."""
    results, _ = judged
    errata = ERRATA.read_text(encoding="utf-8")
    section = errata[errata.index("## mie-only rules") :]
    for rule in RULES:
        row = next((line for line in section.splitlines() if line.startswith(f"| {rule.erratum} |")), None)
        assert row is not None, f"{rule.erratum} is not listed among ERRATA's mie-only rules"
        assert f"`{rule.keyword}`" in row, f"{rule.erratum} does not name its keyword {rule.keyword}"
    used = set().union(*(r.explained_by for r in results))
    assert used == {rule.erratum for rule in RULES}, f"rules no case exercised: {sorted({r.erratum for r in RULES} - used)}"
