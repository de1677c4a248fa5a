"""`mie spec diff OLD NEW`: what changed between two revisions of the contract, in the spec's own terms.

Both revisions are read as files (never through the process-wide spec cache), so any two can be compared.
Each transaction's *request* is flattened into fields by their place in a message (`input[].setlInfoList[].examPart`;
`headers.msgid` and `form.fileMd5` for the multipart transactions; a oneOf chosen by a discriminator as
`input(queryImgCahe).imgFileSn`), each with its code, Chinese name (`title`) and 序号 (`x-seq`). A field's codes
are its revision's dictionary files' (spec/dictionaries/, the truth, as validation reads them), bundled as `mie
generate` bundles them (`enum`, or the `pattern` of a field holding several codes), so they compare as codes; a
revision whose openapi.yaml says otherwise is named as stale.

Every change is classified, for the two sides of this interface:

- **breaking for senders** (the HIS, PACS or other client that builds requests): a request valid under OLD is
  refused under NEW (a new required field, a shorter length, a code removed, a transaction removed, ...);
- **breaking for receivers** (a processor or platform that accepts requests and is still on OLD): a request
  valid under NEW is refused by it (a longer length, a new code, a field no longer required, a new transaction);
- **compatible**: neither (a new optional field where unknown fields are ignored, a new Chinese name, a rename
  whose old name stays an alias of an optional field, a new information or warning that refuses nothing).

A rule relaxed to a warning (`x-relax`) accepts more, so it breaks receivers; a relaxation withdrawn breaks senders.

A change can break both sides (a type or a format changed). Answers are not compared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mie.contract import Contract
from mie.contract.dictionaries import bundled
from mie.contract.spec import resolve_refs
from mie.contract.validation import merge_all_of

SENDERS, RECEIVERS = "senders", "receivers"
_SEVERITY_NAMES = {"error": "错误", "warning": "警告", "information": "提示"}
CLASS_NAMES = {
    (): "兼容",
    (SENDERS,): "发送方不兼容",
    (RECEIVERS,): "接收方不兼容",
    (SENDERS, RECEIVERS): "双方不兼容",
}


class SpecUnreadable(Exception):
    """A file that is not a spec this tool can compare: exit code 2."""


@dataclass(frozen=True)
class FieldInfo:
    """One field of a request, as the spec describes it."""

    path: str
    code: str
    title: str
    seq: str
    required: bool
    open_parent: bool  # unknown fields beside it are ignored (additionalProperties is not false)
    type: str | None
    format: str | None
    pattern: str | None  # not for a dictionary field: its codes are compared instead
    max_length: int | None
    min_length: int | None
    codes: frozenset[str] | None
    dictionary: str | None
    aliases: frozenset[str]
    decimal: tuple[int, int] | None
    relaxed: frozenset[tuple[str, str, str]] = frozenset()  # x-relax: (rule, for which values, severity)
    advice: frozenset[tuple[str, str, str]] = frozenset()  # x-advise: (rule, pattern, severity)

    def name(self) -> str:
        return f"{self.path}({self.title},{self.seq})" if self.seq else f"{self.path}({self.title})"


@dataclass(frozen=True)
class Transaction:
    path: str
    infno: str
    section: str
    summary: str
    fields: dict[str, FieldInfo]

    def name(self) -> str:
        return f"§{self.section} {self.infno}" if self.section else self.infno


@dataclass
class Change:
    kind: str  # transaction-added, field-added, field-renamed, maxLength-changed, codes-added, ...
    transaction: str  # the route
    section: str
    infno: str
    detail: str  # in Chinese, in the spec's terms
    breaks: tuple[str, ...] = ()  # SENDERS and/or RECEIVERS; empty: compatible
    path: str = ""
    code: str = ""
    title: str = ""
    seq: str = ""
    old: Any = None
    new: Any = None

    @property
    def classification(self) -> str:
        return CLASS_NAMES[self.breaks]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "transaction": self.transaction,
            "section": self.section,
            "infno": self.infno,
            "path": self.path,
            "code": self.code,
            "title": self.title,
            "seq": self.seq,
            "old": _jsonable(self.old),
            "new": _jsonable(self.new),
            "breaking_for_senders": SENDERS in self.breaks,
            "breaking_for_receivers": RECEIVERS in self.breaks,
            "classification": self.classification,
            "message": self.detail,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (frozenset, set, tuple)):
        return sorted(value) if isinstance(value, (frozenset, set)) else list(value)
    return value


# --- reading a revision ---------------------------------------------------------------------------------------


def load_revision(path: Path) -> Contract:
    """A revision of the contract, from a spec directory or an openapi.yaml."""
    try:
        contract = Contract.load(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SpecUnreadable(f"{path}: 无法读取: {error}") from None
    if not isinstance(contract.document, dict) or not isinstance(contract.document.get("paths"), dict):
        raise SpecUnreadable(f"{path}: 不是 OpenAPI 文档 (没有 paths)")
    return contract


def revision_transactions(contract: Contract) -> dict[str, Transaction]:
    """A contract's transactions (by route), each with its request fields in the spec's terms; a field's codes are
    its dictionary file's (the truth, as validation reads it), whatever the openapi.yaml beside them says."""
    resolved = contract.resolved
    if contract.dictionaries:
        try:
            document = bundled(contract.document, contract.dictionaries)
            resolved = resolve_refs(document, document)
        except KeyError:  # a dictionary the spec names and the files lack: said as stale, compared as written
            pass
    found: dict[str, Transaction] = {}
    for route, item in resolved["paths"].items():
        operation = (item or {}).get("post")
        if not isinstance(operation, dict):
            continue
        found[route] = Transaction(
            path=route,
            infno=str(operation.get("x-infno") or route.rsplit("/", 1)[-1]),
            section=str(operation.get("x-section", "")),
            summary=str(operation.get("summary", "")),
            fields=dict(_request_fields(operation)),
        )
    return found


def _request_fields(operation: Mapping[str, Any]) -> Iterator[tuple[str, FieldInfo]]:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return
    media_type, media = next(iter(content.items()))
    schema = media.get("schema", {})
    if media_type.startswith("multipart/"):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "header":
                yield from _flatten(
                    parameter.get("schema", {}), f"headers.{parameter['name']}", parameter["name"],
                    bool(parameter.get("required")), True, None,
                )
        yield from _properties(schema, "form", None)
    else:
        yield from _properties(schema, "", None)


def _properties(schema: Mapping[str, Any], prefix: str, node: str | None) -> Iterator[tuple[str, FieldInfo]]:
    schema = merge_all_of(schema)
    node = schema.get("x-node", node)
    required = set(schema.get("required") or ())
    open_object = schema.get("additionalProperties", True) is not False
    for name, child in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield from _flatten(child, path, name, name in required, open_object, node)


def _flatten(
    schema: Mapping[str, Any], path: str, code: str, required: bool, open_parent: bool, node: str | None
) -> Iterator[tuple[str, FieldInfo]]:
    schema = merge_all_of(schema)
    branches = schema.get("oneOf") or []
    own = schema
    plain = [b for b in branches if not _is_object(merge_all_of(b))]
    if len(plain) == 1:  # §2.5: an index, or an object naming one
        own = {**merge_all_of(plain[0]), **{k: v for k, v in schema.items() if k != "oneOf"}}
    yield path, _describe(own, path, code, required, open_parent, node)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        items = merge_all_of(items)
        item_node = items.get("x-node", node)
        item_plain = [b for b in items.get("oneOf") or [] if not _is_object(merge_all_of(b))]
        if item_plain:
            yield from _flatten(items, f"{path}[]", code, True, open_parent, item_node)
        elif _is_object(items):
            yield from _properties(items, f"{path}[]", item_node)
        else:
            yield from _flatten(items, f"{path}[]", code, True, open_parent, item_node)
        return
    if _is_object(schema):
        yield from _properties(schema, path, node)
    discriminator = (schema.get("discriminator") or {}).get("propertyName")
    for branch in branches:
        branch = merge_all_of(branch)
        if not _is_object(branch):
            continue
        label = path
        if discriminator:
            values = (branch.get("properties", {}).get(discriminator) or {}).get("enum") or ["?"]
            label = f"{path}({values[0]})"
        yield from _properties(branch, label, node)


def _is_object(schema: Mapping[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema


_MULTI_CODES = re.compile(r"^(?:\^\$\|)?\^\(\?:(.*?)\)\(\?:")


def _codes(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """A field's codes: its enum, or the codes bundled into the pattern of a field holding several."""
    if "enum" in schema:
        return frozenset(str(value) for value in schema["enum"] if value not in ("", None))
    if schema.get("x-dictionary") and isinstance(schema.get("pattern"), str):
        match = _MULTI_CODES.match(schema["pattern"])
        if match:
            return frozenset(re.sub(r"\\(.)", r"\1", code) for code in match.group(1).split("|"))
    return None


def _relaxed_for(relax: Mapping[str, Any]) -> str:
    if "match" in relax:
        return f"对 {relax['match']} 的值"
    return f"在 {', '.join(relax.get('when-absent', ()))} 都缺失时"


def _describe(
    schema: Mapping[str, Any], path: str, code: str, required: bool, open_parent: bool, node: str | None
) -> FieldInfo:
    seq = schema.get("x-seq")
    decimal = schema.get("x-decimal")
    codes = _codes(schema)
    kind = schema.get("type")
    if kind is None and "oneOf" in schema:
        kind = "oneOf"
    return FieldInfo(
        path=path,
        code=code,
        title=str(schema.get("title", code)),
        seq="" if seq is None else (f"{node}#{seq}" if node else f"#{seq}"),
        required=required,
        open_parent=open_parent,
        type=None if decimal else kind,  # a decimal takes a number or a digit string: its shape is x-decimal
        format=schema.get("x-format") or schema.get("format"),
        pattern=None if codes is not None or decimal else schema.get("pattern"),
        max_length=schema.get("maxLength"),
        min_length=schema.get("minLength"),
        codes=codes,
        dictionary=schema.get("x-dictionary"),
        aliases=frozenset(schema.get("x-aliases") or ()),
        decimal=(int(decimal["precision"]), int(decimal.get("scale", 0))) if decimal else None,
        relaxed=frozenset((item["rule"], _relaxed_for(item), item["severity"]) for item in schema.get("x-relax", ())),
        advice=frozenset((item["rule"], item["pattern"], item["severity"]) for item in schema.get("x-advise", ())),
    )


# --- comparing ------------------------------------------------------------------------------------------------


@dataclass
class Diff:
    old_version: str
    new_version: str
    changes: list[Change] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # a revision whose openapi.yaml disagrees with its dictionaries/

    @property
    def breaking(self) -> bool:
        return any(change.breaks for change in self.changes)

    def breaks(self, side: str) -> bool:
        return any(side in change.breaks for change in self.changes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "breaking_for_senders": self.breaks(SENDERS),
            "breaking_for_receivers": self.breaks(RECEIVERS),
            "changes": [change.as_dict() for change in self.changes],
            "stale": self.stale,
        }


def diff_files(old: Path, new: Path) -> Diff:
    return diff_contracts(load_revision(old), load_revision(new))


def diff_contracts(old: Contract, new: Contract) -> Diff:
    """What changed from `old` to `new`, both loaded at once."""
    old_transactions, new_transactions = revision_transactions(old), revision_transactions(new)
    result = Diff(old.version, new.version, stale=[note for note in (old.stale_note(), new.stale_note()) if note])
    for route, transaction in old_transactions.items():
        if route not in new_transactions:
            result.changes.append(
                Change("transaction-removed", route, transaction.section, transaction.infno,
                       f"交易 {transaction.name()} ({route}) 已删除", (SENDERS,))
            )
    for route, transaction in new_transactions.items():
        previous = old_transactions.get(route)
        if previous is None:
            result.changes.append(
                Change("transaction-added", route, transaction.section, transaction.infno,
                       f"新增交易 {transaction.name()} ({route}): {transaction.summary}", (RECEIVERS,))
            )
            continue
        result.changes += _field_changes(previous, transaction)
    return result


def _field_changes(old: Transaction, new: Transaction) -> list[Change]:
    changes: list[Change] = []

    def change(kind: str, info: FieldInfo, detail: str, breaks: tuple[str, ...], before: Any = None, after: Any = None) -> None:
        ordered = tuple(side for side in (SENDERS, RECEIVERS) if side in breaks)
        changes.append(
            Change(kind, new.path, new.section, new.infno, f"{info.name()}: {detail}", ordered,
                   info.path, info.code, info.title, info.seq, before, after)
        )

    removed = {path: info for path, info in old.fields.items() if path not in new.fields}
    added = {path: info for path, info in new.fields.items() if path not in old.fields}
    renamed: dict[str, FieldInfo] = {}  # new path -> old field
    for path, info in added.items():
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        for old_path, old_info in removed.items():
            old_parent = old_path.rsplit(".", 1)[0] if "." in old_path else ""
            if old_parent == parent and old_info.code in info.aliases:
                renamed[path] = old_info
    renamed_from = {info.path for info in renamed.values()}
    for path, info in removed.items():
        if path in renamed_from or _under_renamed(path, renamed_from):
            continue
        breaks = ((RECEIVERS,) if info.required else ()) + (() if info.open_parent else (SENDERS,))
        change("field-removed", info, "字段已删除" + ("" if info.open_parent else " (报文中不再接受)"), breaks)
    for path, info in added.items():
        if path in renamed:
            previous = renamed[path]
            breaks = (RECEIVERS,) if previous.required or not previous.open_parent else ()
            detail = f"由 {previous.code} 改名为 {info.code} (旧名称保留为别名)"
            change("field-renamed", info, detail, breaks, previous.code, info.code)
            _attribute_changes(previous, info, change, ignore_aliases={previous.code})
            continue
        if _under_renamed_new(path, renamed):
            continue
        breaks = ((SENDERS,) if info.required else ()) + (() if info.open_parent else (RECEIVERS,))
        change("field-added", info, "新增" + ("必填" if info.required else "可选") + "字段", breaks)
    for path, info in new.fields.items():
        if path in old.fields:
            _attribute_changes(old.fields[path], info, change)
    return changes


def _under_renamed(path: str, renamed_from: set[str]) -> bool:
    return any(path.startswith(prefix + ".") or path.startswith(prefix + "[") for prefix in renamed_from)


def _under_renamed_new(path: str, renamed: Mapping[str, FieldInfo]) -> bool:
    return any(path.startswith(prefix + ".") or path.startswith(prefix + "[") for prefix in renamed)


def _attribute_changes(old: FieldInfo, new: FieldInfo, change: Any, ignore_aliases: set[str] | None = None) -> None:
    """Each change of one field present in both revisions (or renamed), recorded through `change`."""
    if old.required != new.required:
        breaks = (SENDERS,) if new.required else (RECEIVERS,)
        change("required-changed", new, "改为必填" if new.required else "改为可选", breaks, old.required, new.required)
    if old.type != new.type:
        change("type-changed", new, f"类型 {old.type} → {new.type}", (SENDERS, RECEIVERS), old.type, new.type)
    if old.max_length != new.max_length:
        shorter = new.max_length is not None and (old.max_length is None or new.max_length < old.max_length)
        change("maxLength-changed", new, f"最大长度 {old.max_length} → {new.max_length}",
               (SENDERS,) if shorter else (RECEIVERS,), old.max_length, new.max_length)
    if old.min_length != new.min_length:
        longer = (new.min_length or 0) > (old.min_length or 0)
        change("minLength-changed", new, f"最小长度 {old.min_length} → {new.min_length}",
               (SENDERS,) if longer else (RECEIVERS,), old.min_length, new.min_length)
    if old.format != new.format:
        change("format-changed", new, f"格式 {old.format} → {new.format}", (SENDERS, RECEIVERS), old.format, new.format)
    if old.pattern != new.pattern:
        change("pattern-changed", new, f"规则 {old.pattern} → {new.pattern}", (SENDERS, RECEIVERS), old.pattern, new.pattern)
    if old.decimal != new.decimal:
        narrower = old.decimal is not None and new.decimal is not None and (
            new.decimal[0] - new.decimal[1] < old.decimal[0] - old.decimal[1] or new.decimal[1] < old.decimal[1]
        )
        wider = old.decimal is not None and new.decimal is not None and (
            new.decimal[0] - new.decimal[1] > old.decimal[0] - old.decimal[1] or new.decimal[1] > old.decimal[1]
        )
        breaks = ((SENDERS,) if narrower or old.decimal is None else ()) + ((RECEIVERS,) if wider or new.decimal is None else ())
        change("decimal-changed", new, f"数值格式 {old.decimal} → {new.decimal}", breaks, old.decimal, new.decimal)
    if old.codes is not None or new.codes is not None:
        before, after = old.codes or frozenset(), new.codes or frozenset()
        source = f"字典 {new.dictionary or old.dictionary}" if (new.dictionary or old.dictionary) else "取值范围"
        if after - before and old.codes is not None:
            change("codes-added", new, f"{source} 新增代码 {', '.join(sorted(after - before))}", (RECEIVERS,),
                   None, sorted(after - before))
        if before - after and new.codes is not None:
            change("codes-removed", new, f"{source} 删除代码 {', '.join(sorted(before - after))}", (SENDERS,),
                   sorted(before - after), None)
        if old.codes is None and new.codes is not None:
            change("codes-restricted", new, f"改为{source}中的代码", (SENDERS,), None, sorted(after))
        if old.codes is not None and new.codes is None:
            change("codes-unrestricted", new, "不再限于字典代码", (RECEIVERS,), sorted(before), None)
    old_aliases = old.aliases - (ignore_aliases or set())
    new_aliases = new.aliases - (ignore_aliases or set())
    if old_aliases - new_aliases:
        gone = sorted(old_aliases - new_aliases)
        change("aliases-removed", new, f"不再接受别名 {', '.join(gone)}", (SENDERS,), gone, None)
    if new_aliases - old_aliases:
        more = sorted(new_aliases - old_aliases)
        change("aliases-added", new, f"新增别名 {', '.join(more)}", (), None, more)
    # A relaxed rule (spec/ERRATA.md, Severities) lets through, as a warning, what the rule alone refuses.
    for rule, values, severity in sorted(new.relaxed - old.relaxed):
        change("rule-relaxed", new, f"规则 {rule} {values}放宽为{_SEVERITY_NAMES.get(severity, severity)}", (RECEIVERS,),
               None, [rule, values, severity])
    for rule, values, severity in sorted(old.relaxed - new.relaxed):
        change("relaxation-removed", new, f"规则 {rule} {values}不再放宽", (SENDERS,), [rule, values, severity], None)
    for rule, pattern, severity in sorted(new.advice ^ old.advice):
        added = (rule, pattern, severity) in new.advice
        change("advice-added" if added else "advice-removed", new,
               f"{'新增' if added else '删除'}{_SEVERITY_NAMES.get(severity, severity)} {rule} ({pattern})", (),
               None if added else [rule, pattern, severity], [rule, pattern, severity] if added else None)
    if old.title != new.title:
        change("title-changed", new, f"中文名称 {old.title} → {new.title}", (), old.title, new.title)
    if old.seq != new.seq:
        change("seq-changed", new, f"序号 {old.seq} → {new.seq}", (), old.seq, new.seq)


# --- reports --------------------------------------------------------------------------------------------------


def render_text(result: Diff) -> str:
    lines = [f"注意: {note}" for note in result.stale]
    lines.append(f"接口规范 V{result.old_version} → V{result.new_version}: {len(result.changes)} 处变更")
    if not result.changes:
        lines[-1] += ", 无"
        return "\n".join(lines)
    current = None
    for change in result.changes:
        if change.transaction != current:
            current = change.transaction
            label = f"§{change.section} {change.infno}" if change.section else change.infno
            lines.append(f"{label} ({change.transaction})")
        lines.append(f"  [{change.classification}] {change.detail}")
    senders = sum(1 for change in result.changes if SENDERS in change.breaks)
    receivers = sum(1 for change in result.changes if RECEIVERS in change.breaks)
    compatible = sum(1 for change in result.changes if not change.breaks)
    lines.append(f"发送方不兼容 {senders} 处, 接收方不兼容 {receivers} 处, 兼容 {compatible} 处")
    return "\n".join(lines)
