"""Validation compiled from the spec, with errors in the spec's own terms.

A schema of spec/openapi.yaml is compiled once into plain Python checks. Every error names the field by
its code, its Chinese name (`title`) and its 序号 (`x-seq`), and says which rule broke, for example
``examPart(检查部位代码,#13): 'XYZ' 不在字典 examPart 中``. All errors of a record are collected, not only the
first. Aliases the errata accept (`x-aliases`) are folded into the canonical name before checking.

Each finding has a severity (error, warning, information, as in the HL7 FHIR validator). Errors refuse; the
spec marks the rules that only warn or inform (`x-relax`, `x-advise`, decided in spec/ERRATA.md), and those
findings are kept apart (`Outcome.advisories`) and named among the notes an answer carries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mie.contract.dictionaries import allowed_codes, separator_class

if TYPE_CHECKING:
    from mie.contract.spec import Contract

_MISSING = object()

ERROR, WARNING, INFORMATION = "error", "warning", "information"
SEVERITY_NAMES = {ERROR: "错误", WARNING: "警告", INFORMATION: "提示"}

@dataclass(frozen=True)
class FieldError:
    """One broken rule of one field."""

    path: str  # the field's code, with its place inside lists: setlInfoList[1].examPart
    code: str  # the field's code as the spec names it
    title: str  # its Chinese name (数据元名称 / 参数名称)
    seq: str  # its 序号, with the node it belongs to when nested: SetlInfoDTO#4
    rule: str  # which rule broke: required, maxLength, dictionary, format, ...
    detail: str  # what is wrong, in Chinese, the value masked when the field is sensitive
    severity: str = ERROR  # error, warning or information (as in the HL7 FHIR validator); see `x-relax`, `x-advise`

    def __str__(self) -> str:
        if not self.seq and self.title in ("", self.code):  # a field the spec does not have: its name is all there is
            return f"{self.path}: {self.detail}"
        return f"{self.path}({self.title},{self.seq}): {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return {
            "path": self.path,
            "code": self.code,
            "title": self.title,
            "seq": self.seq,
            "rule": self.rule,
            "severity": self.severity,
            "message": str(self),
        }


def advisory_note(finding: FieldError) -> str:
    """How a warning or information finding is named in an answer's message (the record is still saved)."""
    return f"{SEVERITY_NAMES[finding.severity]}: {finding}"


@dataclass
class Outcome:
    """What validating one value gave: the value with aliases folded, its errors and notes."""

    value: Any
    errors: list[FieldError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    advisories: list[FieldError] = field(default_factory=list)  # warnings and information: the value is accepted
    strict: bool = False  # `--strict` (mie serve, mie validate): warnings become errors

    @property
    def ok(self) -> bool:
        return not self.errors

    def advise(self, finding: FieldError) -> None:
        """Record a finding below error: kept apart from the errors, and named among the notes (under
        `--strict` a warning is an error instead)."""
        if self.strict and finding.severity == WARNING:
            self.errors.append(replace(finding, severity=ERROR, detail=f"{finding.detail} [--strict: 警告即错误]"))
            return
        self.advisories.append(finding)
        self.notes.append(advisory_note(finding))


@dataclass(frozen=True)
class _Field:
    code: str
    title: str
    seq: str
    sensitive: bool

    def error(self, path: str, rule: str, detail: str, severity: str = ERROR) -> FieldError:
        return FieldError(path=path, code=self.code, title=self.title, seq=self.seq, rule=rule, detail=detail, severity=severity)

    def show(self, value: Any) -> str:
        text = value if isinstance(value, str) else repr(value)
        if self.sensitive:
            text = mask(text)
        elif len(text) > 60:
            text = text[:57] + "..."
        return f"'{text}'"


def mask(text: str) -> str:
    """Mask an identity number or anything embedding one: keep a little at each end."""
    if len(text) <= 4:
        return "*" * len(text)
    keep = max(2, min(6, len(text) // 4))
    return text[:keep] + "*" * (len(text) - 2 * keep) + text[-keep:]


Check = Callable[[Any, str, Outcome], Any]
"""A compiled check: takes a value and its path, records errors on the outcome, returns the value."""

_TYPE_NAMES = {"string": "字符串", "array": "数组", "object": "对象", "number": "数值", "integer": "整数"}

# The pattern fixes each format's shape; these say whether the calendar has that day (fromisoformat is C,
# about 20 times faster than strptime, and takes exactly these shapes once the pattern has matched).
_DATE_PARSERS: dict[str, Callable[[str], object]] = {
    "yyyy-MM-dd": date.fromisoformat,
    "yyyy-MM-dd HH:mm:ss": datetime.fromisoformat,
}


def _describe(schema: Mapping[str, Any], code: str, node: str | None) -> _Field:
    seq = schema.get("x-seq")
    seq_text = "" if seq is None else (f"{node}#{seq}" if node else f"#{seq}")
    return _Field(
        code=code,
        title=str(schema.get("title", code)),
        seq=seq_text,
        sensitive=bool(schema.get("x-sensitive")),
    )


def _is_absent(value: Any) -> bool:
    return value is _MISSING or value is None


@dataclass(frozen=True)
class StringRules:
    """What a string schema asks, read once: the detailed checks below and the fast path (fastpath.py) both
    take their rules from here, so that the two cannot read the spec differently."""

    max_length: int | None
    min_length: int | None
    date_format: str | None
    parse_date: Callable[[str], object] | None
    dictionary_name: str | None
    codes: frozenset[str] | None
    split: re.Pattern[str] | None
    enum: frozenset[Any] | None
    pattern: re.Pattern[str] | None
    rule_name: str | None
    parser: Callable[[str], str | None] | None
    # x-relax: a broken `rule` whose value (for a dictionary: each code) matches `match` is a finding of
    # `severity`, not an error. x-advise: a value that does not match `pattern` is a finding of `severity`.
    relaxed: dict[str, tuple[re.Pattern[str], Mapping[str, Any]]]
    advice: list[tuple[re.Pattern[str], Mapping[str, Any]]]


def string_rules(schema: Mapping[str, Any], contract: Contract) -> StringRules:
    date_format = schema.get("x-format")
    dictionary_name = schema.get("x-dictionary")
    separator = schema.get("x-separator")
    pattern = None
    if "pattern" in schema and not dictionary_name:
        # fullmatch: ECMA-262's `$` (JSON Schema's) ends the text, Python's also matches before a final "\n",
        # which would let "1.2.3\n" through as a UID (and into a file path).
        pattern = re.compile(schema["pattern"])
    parser = _parser(schema.get("x-parser"), contract)
    if parser is not None:
        pattern = None  # the parser names each broken part, which the whole pattern cannot
    return StringRules(
        max_length=schema.get("maxLength"),
        min_length=schema.get("minLength"),
        date_format=date_format,
        parse_date=_DATE_PARSERS.get(date_format) if date_format else None,
        dictionary_name=dictionary_name,
        codes=frozenset(allowed_codes(schema, contract.dictionaries)) if dictionary_name else None,
        split=re.compile(separator_class(separator)) if separator else None,
        enum=None if dictionary_name else (frozenset(schema["enum"]) if "enum" in schema else None),
        pattern=pattern,
        rule_name=schema.get("x-pattern-name", schema.get("pattern")),
        parser=parser,
        relaxed={item["rule"]: (re.compile(item["match"]), item) for item in schema.get("x-relax", ()) if "match" in item},
        advice=[(re.compile(item["pattern"]), item) for item in schema.get("x-advise", ())],
    )


def _compile_string(schema: Mapping[str, Any], info: _Field, contract: Contract) -> Check:
    rules = string_rules(schema, contract)
    max_length, min_length, date_format, parse_date = rules.max_length, rules.min_length, rules.date_format, rules.parse_date
    dictionary_name, codes, split, enum = rules.dictionary_name, rules.codes, rules.split, rules.enum
    pattern, rule_name, parser, relaxed, advice = rules.pattern, rules.rule_name, rules.parser, rules.relaxed, rules.advice

    def broken(outcome: Outcome, path: str, rule: str, detail: str, value: str) -> None:
        relax = relaxed.get(rule)
        if relax is not None and relax[0].match(value):
            outcome.advise(info.error(path, rule, f"{detail} ({relax[1]['detail']})", relax[1]["severity"]))
        else:
            outcome.errors.append(info.error(path, rule, detail))

    def check(value: Any, path: str, outcome: Outcome) -> Any:
        if not isinstance(value, str):
            outcome.errors.append(info.error(path, "type", f"类型应为字符串, 实为 {type(value).__name__}"))
            return value
        if value == "":
            # An empty optional field is an absent one (the document's own example sends "tel": "").
            return value
        if max_length is not None and len(value) > max_length:
            outcome.errors.append(info.error(path, "maxLength", f"长度 {len(value)} 超过最大长度 {max_length}"))
        if min_length is not None and len(value) < min_length:
            outcome.errors.append(info.error(path, "minLength", f"长度 {len(value)} 小于最小长度 {min_length}"))
        if parse_date is not None:
            if pattern is not None and not pattern.fullmatch(value):
                outcome.errors.append(info.error(path, "format", f"{info.show(value)} 不符合格式 {date_format}"))
            else:
                try:
                    parse_date(value)
                except ValueError:
                    outcome.errors.append(info.error(path, "format", f"{info.show(value)} 不是有效的日期时间 ({date_format})"))
        elif pattern is not None and not pattern.fullmatch(value):
            broken(outcome, path, "pattern", f"{info.show(value)} 不符合规则 {rule_name}", value)
        if parser is not None:
            problem = parser(value)
            if problem:
                outcome.errors.append(info.error(path, "index", problem))
        if codes is not None:
            parts = split.split(value) if split else [value]
            unknown = [part for part in parts if part not in codes]
            for part in unknown:
                broken(outcome, path, "dictionary", f"{info.show(part)} 不在字典 {dictionary_name} 中", part)
        elif enum is not None and value not in enum:
            allowed = ", ".join(sorted(v for v in enum if v))
            outcome.errors.append(info.error(path, "enum", f"{info.show(value)} 不在取值范围 [{allowed}] 中"))
        for advice_pattern, item in advice:
            if not advice_pattern.match(value):
                outcome.advise(info.error(path, item["rule"], item["detail"], item["severity"]))
        return value

    return check


@dataclass(frozen=True)
class DecimalRules:
    """BigDecimal(precision, scale) and Int(digits), read once (shared with the fast path)."""

    scale: int
    shape: str  # how an error names the format: (5,1) or "3 位整数"
    text_pattern: re.Pattern[str]
    # A JSON body's decimal takes a number or a digit string (`anyOf`, ERRATA E-DECIMAL); a field the spec types
    # `string` (a multipart form's, where every value is text) takes the string only.
    strings_only: bool


def decimal_rules(schema: Mapping[str, Any]) -> DecimalRules:
    precision = int(schema["x-decimal"]["precision"])
    scale = int(schema["x-decimal"].get("scale", 0))
    integer_digits = precision - scale
    # [0-9], not \d: Python's \d takes any Unicode digit ("٣٥"), which Decimal reads but no JSON Schema pattern
    # (ECMA-262) or other tool does.
    fraction = rf"(?:\.[0-9]{{1,{scale}}})?" if scale else ""
    return DecimalRules(
        scale=scale,
        shape=f"({precision},{scale})" if scale else f"{precision} 位整数",
        text_pattern=re.compile(rf"^[0-9]{{1,{integer_digits}}}{fraction}$"),
        strings_only=schema.get("type") == "string",
    )


def _compile_decimal(schema: Mapping[str, Any], info: _Field) -> Check:
    """BigDecimal(precision, scale) and Int(digits): a JSON number or a string of digits."""
    rules = decimal_rules(schema)
    scale, shape, text_pattern = rules.scale, rules.shape, rules.text_pattern
    kinds: tuple[type, ...] = (str,) if rules.strings_only else (str, int, float, Decimal)

    def check(value: Any, path: str, outcome: Outcome) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds):
            expected = "数字字符串" if kinds == (str,) else "数值或数字字符串"
            outcome.errors.append(info.error(path, "type", f"类型应为{expected}, 实为 {type(value).__name__}"))
            return value
        if value == "":
            return value
        text = value if isinstance(value, str) else repr(value)
        if isinstance(value, float) and value.is_integer():
            # 1000.0 (or 1e3) is the integer 1000, as JSON Schema's `integer` has it since draft-06 (and ajv):
            # the number has no fraction whatever its spelling
            text = str(int(value))
        fractional = isinstance(value, float) and not value.is_integer()
        if scale == 0 and (fractional or isinstance(value, Decimal)):
            outcome.errors.append(info.error(path, "type", f"{info.show(value)} 应为整数"))
            return value
        try:
            Decimal(text)
        except InvalidOperation:
            text = "?"
        if not text_pattern.fullmatch(text):
            outcome.errors.append(info.error(path, "decimal", f"{info.show(value)} 不符合数值格式 {shape}"))
        return value

    return check


def _compile_array(schema: Mapping[str, Any], info: _Field, node: str | None, contract: Contract) -> Check:
    items = schema.get("items") or {}
    item_check = compile_schema(items, contract, info.code, items.get("x-node", node), top=False)
    min_items = schema.get("minItems")
    max_items = schema.get("maxItems")

    def check(value: Any, path: str, outcome: Outcome) -> Any:
        if not isinstance(value, list):
            outcome.errors.append(info.error(path, "type", f"类型应为数组, 实为 {type(value).__name__}"))
            return value
        if min_items is not None and len(value) < min_items:
            outcome.errors.append(info.error(path, "minItems", f"至少应有 {min_items} 项, 实为 {len(value)} 项"))
        if max_items is not None and len(value) > max_items:
            outcome.errors.append(info.error(path, "maxItems", f"至多 {max_items} 项, 实为 {len(value)} 项"))
        return [item_check(item, f"{path}[{index}]", outcome) for index, item in enumerate(value)]

    return check


def _compile_object(schema: Mapping[str, Any], info: _Field | None, node: str | None, contract: Contract) -> Check:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    node = schema.get("x-node", node)
    fields: list[tuple[str, _Field, Check, bool]] = []
    aliases = field_aliases(properties)
    # x-relax rule `required` with `when-absent`: a required field missing while those fields are absent too
    # (an exam without a second review has no second-review date) is a finding of `severity`, not an error.
    optional_when: dict[str, Mapping[str, Any]] = {}
    for code, child in properties.items():
        child_info = _describe(child, code, node)
        fields.append((code, child_info, compile_schema(child, contract, code, node, top=False), code in required))
        for relax in child.get("x-relax", ()):
            if relax["rule"] == "required" and "when-absent" in relax:
                optional_when[code] = relax
    additional = schema.get("additionalProperties", True)
    known = set(properties)

    def check(value: Any, path: str, outcome: Outcome) -> Any:
        if not isinstance(value, dict):
            if info is not None:
                outcome.errors.append(info.error(path, "type", f"类型应为对象, 实为 {type(value).__name__}"))
            else:
                outcome.errors.append(
                    FieldError(path or "$", path or "$", "报文", "", "type", f"类型应为对象, 实为 {type(value).__name__}")
                )
            return value
        prefix = f"{path}." if path else ""
        folded = dict(value)
        for alias, canonical in aliases.items():
            if alias in folded:
                aliased = folded.pop(alias)
                if canonical in folded and folded[canonical] != aliased:
                    outcome.errors.append(
                        FieldError(
                            prefix + canonical,
                            canonical,
                            str(properties[canonical].get("title", canonical)),
                            "",
                            "alias",
                            f"同时给出 {canonical} 与其别名 {alias}, 且取值不同",
                        )
                    )
                else:
                    folded.setdefault(canonical, aliased)
                    outcome.notes.append(f"已按 {canonical} 读取字段 {prefix}{alias}")
        result: dict[str, Any] = {}
        for code, child_info, child_check, is_required in fields:
            present = folded.get(code, _MISSING)
            if _is_absent(present) or (is_required and present == ""):
                if is_required:
                    detail = "必填项缺失" if present is _MISSING else "必填项为空"
                    relax = optional_when.get(code)
                    if relax is not None and all(
                        _is_absent(folded.get(other, _MISSING)) or folded.get(other) == "" for other in relax["when-absent"]
                    ):
                        detail = f"{detail} ({relax['detail']})"
                        outcome.advise(child_info.error(prefix + code, "required", detail, relax["severity"]))
                    else:
                        outcome.errors.append(child_info.error(prefix + code, "required", detail))
                continue
            result[code] = child_check(present, prefix + code, outcome)
        unknown = [name for name in folded if name not in known]
        if unknown:
            if additional is False:
                for name in unknown:
                    outcome.errors.append(
                        FieldError(prefix + name, name, name, "", "additionalProperties", "接口规范中没有这个字段")
                    )
            else:
                outcome.notes.append(ignored_fields_note([prefix + name for name in unknown]))
        return result

    return check


def field_aliases(properties: Mapping[str, Any]) -> dict[str, str]:
    """Other spellings of an object's fields the errata accept (`x-aliases`): alias -> the spec's name."""
    return {alias: code for code, child in properties.items() for alias in child.get("x-aliases", ())}


def ignored_fields_note(paths: list[str]) -> str:
    """The note for fields the spec does not have (they are ignored, and the answer says so)."""
    return f"已忽略接口规范中没有的字段 {', '.join(paths)}"


def _compile_shallow(schema: Mapping[str, Any], info: _Field) -> Check:
    """`input` of an envelope: each record is validated and answered on its own, so only its shape here."""
    kind = schema.get("type", "object")
    python_type = list if kind == "array" else dict
    min_items = schema.get("minItems")
    max_items = schema.get("maxItems")

    def check(value: Any, path: str, outcome: Outcome) -> Any:
        if not isinstance(value, python_type):
            outcome.errors.append(info.error(path, "type", f"类型应为{_TYPE_NAMES[kind]}, 实为 {type(value).__name__}"))
        elif min_items is not None and len(value) < min_items:
            outcome.errors.append(info.error(path, "minItems", f"至少应有 {min_items} 项, 实为 {len(value)} 项"))
        elif max_items is not None and len(value) > max_items:
            outcome.errors.append(info.error(path, "maxItems", f"至多 {max_items} 项, 实为 {len(value)} 项"))
        return value

    return check


def _parser(name: str | None, contract: Contract) -> Callable[[str], str | None] | None:
    """The parser an `x-parser` names: it says what is wrong with a value part by part."""
    if name is None:
        return None
    if name == "hiImgIndx":
        return contract.index.problem
    raise ValueError(f"the spec names an unknown x-parser {name!r}")


def merge_all_of(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A schema with its `allOf` parts merged in (the spec uses allOf to add a field's own keywords to a
    shared component, such as hiImgIndx's title and 序号 to HiImgIndx); a part's own allOf is merged too.
    The one merge of the code base: the validators, the fast path, the toolkit and the tests all read allOf so."""
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {}
    for part in schema["allOf"]:
        merged.update(merge_all_of(part))
    merged.update({key: value for key, value in schema.items() if key != "allOf"})
    return merged


def schema_kind(schema: Mapping[str, Any], top: bool) -> str:
    """Which check a (merged) schema compiles to: decimal, shallow, object, array, string or any (no check)."""
    if "x-decimal" in schema:
        return "decimal"
    kind = schema.get("type")
    if schema.get("x-per-record") and not top:
        return "shallow"
    if kind == "object" or "properties" in schema:
        return "object"
    if kind in ("array", "string"):
        return str(kind)
    return "any"


def compile_schema(
    schema: Mapping[str, Any], contract: Contract, code: str = "", node: str | None = None, top: bool = True
) -> Check:
    """Compile a resolved schema (no $ref) into a check."""
    schema = merge_all_of(schema)
    info = _describe(schema, code, node) if not top else None
    kind = schema_kind(schema, top)
    if kind == "decimal":
        assert info is not None, "a decimal cannot be a whole body"
        return _compile_decimal(schema, info)
    if kind == "shallow":
        assert info is not None
        return _compile_shallow(schema, info)
    if kind == "object":
        return _compile_object(schema, info, node, contract)
    if kind == "array":
        assert info is not None
        return _compile_array(schema, info, node, contract)
    if kind == "string":
        assert info is not None
        return _compile_string(schema, info, contract)
    return lambda value, path, outcome: value


class Validator:
    """A compiled schema of one contract: `validate(value)` gives an Outcome with every error."""

    def __init__(self, schema: Mapping[str, Any], contract: Contract) -> None:
        from mie.contract.fastpath import compile_fast  # it reads its rules through this module's helpers

        self.schema = schema
        self.strict = contract.strict
        self._check = compile_schema(schema, contract)
        # Most values break nothing: generated code says so quickly, and gives way to the detailed checks
        # (which name every finding) as soon as a value is anything but plainly valid.
        self._fast = compile_fast(schema, contract)

    def validate(self, value: Any, path: str = "") -> Outcome:
        outcome = self._fast(value, path)
        return outcome if outcome is not None else self.validate_detailed(value, path)

    def validate_detailed(self, value: Any, path: str = "") -> Outcome:
        """The detailed checks alone (what `validate` falls back to; the fast path's tests compare both)."""
        outcome = Outcome(value=None, strict=self.strict)
        outcome.value = self._check(value, path, outcome)
        return outcome
