"""The fast path of validation: Python source generated from a resolved schema, compiled once per schema.

Most records of a batch break no rule. For them, the detailed checks of `mie.contract.validation` (one closure
per field, each ready to name its finding by code, Chinese name and 序号) do a lot of work to find nothing.
The function generated here walks the same rules as straight-line code, one block per field, with the
schema's constants (lengths, compiled patterns, dictionary code sets) bound as globals: the idea of
fastjsonschema. Every rule is read through the helpers the detailed checks use (`string_rules`,
`decimal_rules`, `schema_kind`, `merge_all_of`, `field_aliases`), so both read the spec alike.

It answers only when it is sure, and then with the very Outcome the detailed checks would give: no error, no
warning, the value with absent fields dropped and its fields in the schema's order, and the one note a clean
value can carry (fields the spec does not have, which are ignored). On anything else (a broken rule, a
warning or information, an alias, a value of a type the spec does not expect) it gives way, and the detailed
checks run from the start and name every finding. So it can make validation faster, never different.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mie.contract.validation import (
    Outcome,
    decimal_rules,
    field_aliases,
    ignored_fields_note,
    merge_all_of,
    schema_kind,
    string_rules,
)

if TYPE_CHECKING:
    from mie.contract.spec import Contract

FastCheck = Callable[[Any, str], "Outcome | None"]
"""A generated check: the Outcome of a plainly valid value, or None when the detailed checks must decide."""


class _GiveWay(Exception):
    """Raised by generated code at the first sign that the value is not plainly valid."""


class _Source:
    """The generated module: its functions' lines and the constants they use (bound as globals)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract  # whose dictionaries and index rule the checks read
        self.functions: list[list[str]] = []
        self.constants: dict[str, Any] = {"GiveWay": _GiveWay, "Decimal": Decimal, "InvalidOperation": InvalidOperation}
        self._names: dict[int, str] = {}
        self._locals = 0

    def constant(self, value: Any, hint: str) -> str:
        name = self._names.get(id(value))
        if name is None or self.constants[name] is not value:
            name = f"{hint}_{len(self.constants)}"
            self.constants[name] = value
            self._names[id(value)] = name
        return name

    def local(self, hint: str) -> str:
        """A local variable's name no other block of the generated code uses."""
        self._locals += 1
        return f"{hint}_{self._locals}"

    def function(self, prefix: str) -> tuple[str, list[str]]:
        lines: list[str] = []
        self.functions.append(lines)
        return f"{prefix}_{len(self.functions)}", lines


def _string(source: _Source, schema: Mapping[str, Any], var: str, indent: str, required: bool) -> list[str]:
    """Lines that give way unless `var` passes every rule of a string schema: present (not None) when optional,
    anything when required (absent, null or "" is a finding then)."""
    rules = string_rules(schema, source.contract)
    # type(v) is: the exact class JSON gives (a subclass gives way); CPython runs type() faster than .__class__
    first = [f"type({var}) is not str"]
    if required:
        first.append(f"not {var}")
    if rules.max_length is not None:
        first.append(f"len({var}) > {int(rules.max_length)}")
    out = [f"{indent}if {' or '.join(first)}: raise GiveWay"]
    checks: list[str] = []  # on a non-empty value only: an empty optional field is an absent one
    if rules.min_length is not None and rules.min_length > 1:
        checks.append(f"if len({var}) < {int(rules.min_length)}: raise GiveWay")
    if rules.parse_date is not None:
        if rules.pattern is not None:
            checks.append(f"if not {source.constant(rules.pattern.fullmatch, 'pattern')}({var}): raise GiveWay")
        parse = source.constant(rules.parse_date, "parse_date")
        checks += ["try:", f"    {parse}({var})", "except ValueError:", "    raise GiveWay from None"]
    elif rules.pattern is not None:
        checks.append(f"if not {source.constant(rules.pattern.fullmatch, 'pattern')}({var}): raise GiveWay")
    if rules.parser is not None:
        checks.append(f"if {source.constant(rules.parser, 'parser')}({var}): raise GiveWay")
    if rules.spelling is not None:  # a note the detailed checks give
        checks.append(f"if {source.constant(rules.spelling, 'spelling')}({var}): raise GiveWay")
    if rules.codes is not None:
        codes = source.constant(rules.codes, "codes")
        if rules.split is None:
            checks.append(f"if {var} not in {codes}: raise GiveWay")
        else:
            split = source.constant(rules.split.split, "split")
            parts = [f"for part in {split}({var}):", f"    if part not in {codes}: raise GiveWay"]
            if any(rules.split.search(code) for code in rules.codes):
                checks += parts  # a code holds a separator: only the split says which codes a value holds
            else:
                checks += [f"if {var} not in {codes}:", *("    " + line for line in parts)]  # one code: no split
    elif rules.enum is not None:
        checks.append(f"if {var} not in {source.constant(rules.enum, 'enum')}: raise GiveWay")
    for advice_pattern, _ in rules.advice:
        checks.append(f"if not {source.constant(advice_pattern.match, 'advice')}({var}): raise GiveWay")
    if checks and required:
        out += [f"{indent}{line}" for line in checks]
    elif checks:
        out.append(f"{indent}if {var}:")
        out += [f"{indent}    {line}" for line in checks]
    return out


def _decimal(source: _Source, schema: Mapping[str, Any], var: str, indent: str) -> list[str]:
    """Lines that give way unless `var` is a number or digit string of the schema's precision and scale."""
    rules = decimal_rules(schema)
    text = source.constant(rules.text_pattern.fullmatch, "decimal")
    out = [
        f"{indent}if type({var}) is str:",
        f"{indent}    if {var}:",
        f"{indent}        if not {text}({var}): raise GiveWay",
        f"{indent}        try:",
        f"{indent}            Decimal({var})",
        f"{indent}        except InvalidOperation:",
        f"{indent}            raise GiveWay from None",
    ]
    if rules.strings_only:  # a form's field: text only, a number is a finding
        out.append(f"{indent}else: raise GiveWay")
        return out
    out += [
        f"{indent}elif type({var}) is int:",  # not bool (a subclass), which the detailed check refuses
        f"{indent}    if not {text}(repr({var})): raise GiveWay",
    ]
    if rules.scale:  # a float where an integer is asked goes to the detailed check
        out += [
            f"{indent}elif type({var}) is float:",
            f"{indent}    text = repr({var})",
            f"{indent}    if not {text}(text[:-2] if text.endswith('.0') else text): raise GiveWay",
        ]
    out.append(f"{indent}else: raise GiveWay")
    return out


def _value(
    source: _Source, schema: Mapping[str, Any], var: str, path: str, indent: str, required: bool = False
) -> tuple[list[str], str]:
    """Lines checking `var` against a schema that is not the whole value, and the expression of the checked
    value (a new dict or list for an object or array, as the detailed checks give). `var` is known to be
    present and not None, unless `required`: then these lines give way when it is absent, null or ""."""
    schema = merge_all_of(schema)
    kind = schema_kind(schema, top=False)
    if kind == "string":
        return _string(source, schema, var, indent, required), var
    if required:
        lines, result = _value(source, schema, var, path, indent)
        return [f'{indent}if {var} is None or {var} == "": raise GiveWay', *lines], result
    if kind == "decimal":
        return _decimal(source, schema, var, indent), var
    if kind == "shallow":
        python_type = "list" if schema.get("type", "object") == "array" else "dict"
        return [f"{indent}if type({var}) is not {python_type}: raise GiveWay", *_count(schema, var, indent)], var
    if kind == "object":
        name = _object(source, schema)
        return [], f"{name}({var}, {path}, notes)"
    if kind == "array":
        items = merge_all_of(schema.get("items") or {})
        item_function = _object(source, items) if schema_kind(items, top=False) == "object" else _item(source, items)
        base = source.local("path")
        lines = [
            f"{indent}if type({var}) is not list: raise GiveWay",
            *_count(schema, var, indent),
            f"{indent}{base} = {path}",
        ]
        return lines, f"[{item_function}(item, f'{{{base}}}[{{index}}]', notes) for index, item in enumerate({var})]"
    return [], var  # no rule the detailed checks read: any value passes, unchanged


def _count(schema: Mapping[str, Any], var: str, indent: str) -> list[str]:
    lines = []
    if schema.get("minItems") is not None:
        lines.append(f"{indent}if len({var}) < {int(schema['minItems'])}: raise GiveWay")
    if schema.get("maxItems") is not None:
        lines.append(f"{indent}if len({var}) > {int(schema['maxItems'])}: raise GiveWay")
    return lines


def _item(source: _Source, schema: Mapping[str, Any]) -> str:
    """A function checking one item of an array: (value, path, notes) -> the checked value."""
    name, lines = source.function("item")
    body, result = _value(source, schema, "value", "path", "    ")
    lines += [f"def {name}(value, path, notes):", *body, f"    return {result}"]
    return name


def _object(source: _Source, schema: Mapping[str, Any]) -> str:
    """A function checking an object: (value, path, notes) -> the dict of its present fields, in the
    schema's order; the note for fields the spec does not have goes to `notes` after its children's."""
    name, lines = source.function("object")
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    lines += [
        f"def {name}(value, path, notes):",
        "    if type(value) is not dict: raise GiveWay",
        "    get = value.get",
        "    result = {}",
        "    nulls = 0",
    ]
    for code, child in properties.items():
        key = repr(code)
        lines.append(f"    v = get({key})")
        if code not in required:
            lines.append("    if v is not None:")  # an optional field absent or null is not checked
        indent = "    " if code in required else "        "
        child_path = f"(path + {'.' + code!r} if path else {key})"
        body, result = _value(source, child, "v", child_path, indent, required=code in required)
        lines += body
        lines.append(f"{indent}result[{key}] = {result}")
        if code not in required:
            lines.append(f"    elif {key} in value: nulls += 1")  # sent as null: known, and dropped
    lines.append("    unknown = len(value) - len(result) - nulls")  # fields the spec does not have
    lines.append("    if unknown:")
    if schema.get("additionalProperties", True) is False:
        lines.append("        raise GiveWay")  # each is an error
    else:
        note = source.constant(_Unknown(frozenset(properties), frozenset(field_aliases(properties))), "unknown")
        lines.append(f"        notes.append({note}.note(value, path, unknown))")
    lines.append("    return result")
    return name


class _Unknown:
    """The note naming the fields of an object that the spec does not have, in the order they were sent.

    Finding them is a walk over every key in Python. The records of a batch mostly carry the same ones (the
    document's own example has hospitalCode and patientId), so the last ones are tried first: they are this
    value's unknown fields when there are as many (`count`, which the generated code knows), the value has
    them all, and in the same order."""

    def __init__(self, known: frozenset[str], aliases: frozenset[str]) -> None:
        self.known = known
        self.aliases = aliases
        # the last answer, replaced as one tuple (validators are shared by the server's threads): the unknown
        # names, where they were, and the note for the path it was made for
        self.last: tuple[list[str], list[int], str | None, str] = ([], [], None, "")

    def note(self, value: dict[str, Any], path: str, count: int) -> str:
        last = self.last
        names, places, said_for, text = last
        same = len(names) == count and all(map(value.__contains__, names))
        if same and count > 1:  # and in the same order: where they were last, else wherever they are now
            keys = list(value)
            if not all(place < len(keys) and keys[place] == name for name, place in zip(names, places, strict=True)):
                places = [keys.index(name) for name in names]
                same = places == sorted(places)
        if not same:
            keys = list(value)
            names = [key for key in keys if key not in self.known]
            if not self.aliases.isdisjoint(names):
                raise _GiveWay  # an alias is read as its field, and the answer says so
            places, said_for = [keys.index(name) for name in names], None
        if path != said_for:
            prefix = f"{path}." if path else ""
            text = ignored_fields_note([prefix + key for key in names])
        if (names, places, path) != last[:3]:
            self.last = (names, places, path, text)
        return text


def generate(schema: Mapping[str, Any], contract: Contract) -> tuple[str, dict[str, Any]]:
    """The source of `fast(value, path)` for a whole schema, and the constants it needs."""
    source = _Source(contract)
    schema = merge_all_of(schema)
    kind = schema_kind(schema, top=True)
    if kind == "object":
        name = _object(source, schema)
        call = f"{name}(value, path, notes)"
    else:  # the detailed checks read no rule of anything else as a whole value
        call = "value"
    entry = [
        "def fast(value, path):",
        "    notes = []",
        "    try:",
        f"        checked = {call}",
        "    except GiveWay:",
        "        return None",
        "    return Outcome(value=checked, notes=notes, strict=strict)",
    ]
    source.constants["Outcome"] = Outcome
    source.constants["strict"] = contract.strict
    text = "\n\n".join("\n".join(lines) for lines in [*source.functions, entry]) + "\n"
    return text, source.constants


def compile_fast(schema: Mapping[str, Any], contract: Contract) -> FastCheck:
    """Generate and compile the fast path of a resolved schema (once per schema)."""
    text, constants = generate(schema, contract)
    namespace = dict(constants)
    exec(compile(text, f"<mie fast path: {schema.get('title') or schema.get('description', '')[:40]}>", "exec"), namespace)  # noqa: S102 - our own generated code
    fast: FastCheck = namespace["fast"]
    fast.source = text  # type: ignore[attr-defined]  # to read what was generated
    return fast
