"""How a request's JSON body is read (ERRATA E-JSON-STRICT): its encoding (byte-order mark, else the charset its
Content-Type declares, GBK read as GB18030, else UTF-8), then strict JSON (no NaN or Infinity, no key twice, no
number beyond a float or 4,300 digits, no lone surrogate, at most MAX_DEPTH levels).

The processor, `mie validate` and `mie proxy` read bodies through here, so that a body means the same to each;
what cannot be read is a BodyRefused with the catalogue's code, which each says in its own way.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from generated.models import ResponseCode


def _codes() -> type[ResponseCode]:
    """The catalogue's codes, imported when a body is refused: the generated models (pydantic) are half of
    `mie validate`'s start-up, and a body that reads needs none of them."""
    from generated.models import ResponseCode

    return ResponseCode


class BodyRefused(Exception):
    """A body that cannot be read as the contract reads bodies: the catalogue's code and what is wrong."""

    def __init__(self, code: ResponseCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Charsets a JSON body may declare. GBK and GB2312 are read as GB18030, their superset: many hospital systems
# still send GBK. Anything else is refused rather than guessed.
CHARSETS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-32": "utf-32",
    "utf-32le": "utf-32-le",
    "utf-32be": "utf-32-be",
}
# A byte-order mark says the encoding before any declaration does (as WHATWG's decode does); longest first.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
MAX_PARTS = 64
"""A multipart/form-data body (§2.2, §2.4) of more parts than this is refused: the forms have seven fields."""
MAX_FIELD_BYTES = 1024 * 1024
"""A text field of a multipart form longer than this is refused; the forms' longest field is far shorter."""
MAX_DEPTH = 32
"""Nesting deeper than this is refused: the spec's bodies nest five levels, and a deep body must not reach
code that recurses (Python's json stops near 1,000 levels with RecursionError)."""


def declared_charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def decode_body(raw: bytes, charset: str | None) -> tuple[str, str]:
    """The body's text and the codec that read it: by its byte-order mark, else by the charset its
    Content-Type declares, else UTF-8."""
    if not raw.strip():
        raise BodyRefused(_codes().malformed_body, "请求体为空")
    encoding = next((name for bom, name in BOMS if raw.startswith(bom)), None)
    if encoding is None and charset is not None:
        encoding = CHARSETS.get(charset)
        if encoding is None:
            raise BodyRefused(
                _codes().unsupported_media_type,
                f"不支持的字符集 charset={charset[:40]}; 请用 UTF-8, 或声明 charset=GBK / GB18030 (unsupported charset)",
            )
    encoding = encoding or "utf-8"
    if encoding == "utf-8" and b"\x00" in raw[:4]:  # JSON text begins with ASCII: NULs there mean UTF-16/32
        raise BodyRefused(
            _codes().malformed_body,
            "请求体像是没有 BOM 的 UTF-16/32; 请用 UTF-8 (not UTF-8: looks like UTF-16 or UTF-32 without a byte-order mark)",
        )
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError as error:
        named = (charset or encoding).upper()
        detail = f"请求体不是有效的 {named} (第 {error.start} 字节; invalid {named} at byte {error.start})"
        if charset is None and encoding == "utf-8" and _decodes_as_gb18030(raw):
            detail += "; 若为 GBK/GB18030 编码, 请在 Content-Type 中声明 charset=GBK (declare the charset)"
        raise BodyRefused(_codes().malformed_body, detail) from None


def _decodes_as_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _show_name(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "..."


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two values of one field are ambiguous (RFC 8259 §4 leaves it to the reader): refuse, naming the field."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise BodyRefused(
                    _codes().malformed_body,
                    f"字段 {_show_name(name)} 在同一对象中出现了两次, 取哪个值不明确 (duplicate key {_show_name(name)!r})",
                )
            seen.add(name)
    return value


def _no_constant(name: str) -> NoReturn:
    raise BodyRefused(_codes().malformed_body, f"{name} 不是 JSON 的数 (RFC 8259 §6: {name} is not a JSON number)")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise BodyRefused(_codes().malformed_body, f"数 {_show_name(text)} 超出范围 (number out of range)")
    return number


# json's messages (CPython's scanner; "Unterminated string starting at" and the like), said in Chinese; the
# original stays in brackets, as the other refusals of this module keep theirs.
_JSON_ERRORS = {
    "Expecting value": "此处应有一个值",
    "Expecting ',' delimiter": "此处应为逗号 ,",
    "Expecting ':' delimiter": "此处应为冒号 :",
    "Expecting property name enclosed in double quotes": "此处应为双引号括起的字段名",
    "Unterminated string starting at": "字符串没有结束",
    "Invalid control character at": "字符串中有未转义的控制字符",
    "Invalid \\escape": "无效的 \\ 转义",
    "Invalid \\uXXXX escape": "无效的 \\uXXXX 转义",
    "Extra data": "JSON 值之后还有多余内容",
    "Illegal trailing comma before end of object": "对象末尾多了逗号",
    "Illegal trailing comma before end of array": "数组末尾多了逗号",
}


def _json_error(error: json.JSONDecodeError) -> str:
    """Where and what, in Chinese; a document that stops before its end is said to be cut short."""
    what = _JSON_ERRORS.get(error.msg, "语法错误")
    if error.msg != "Extra data" and not error.doc[error.pos :].strip(" \t\r\n"):
        what = "内容在此处中断, 不完整 (被截断?)" if error.msg == "Expecting value" else f"{what}; 内容不完整 (被截断?)"
    if error.msg == "Unterminated string starting at":
        what += "; 内容不完整 (被截断?)" if '"' not in error.doc[error.pos + 1 :] else ""
    return f"第 {error.lineno} 行第 {error.colno} 列: {what} ({error.msg})"


def parse_json(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, no number beyond a float's range or 4,300 digits (Python's limit),
    no key twice in one object, at most MAX_DEPTH levels of nesting."""
    try:
        body = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise BodyRefused(_codes().malformed_body, _json_error(error)) from None
    except RecursionError:
        raise BodyRefused(_codes().malformed_body, f"嵌套超过 {MAX_DEPTH} 层 (nested too deeply)") from None
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits()
        limit = sys.get_int_max_str_digits()
        raise BodyRefused(_codes().malformed_body, f"数的位数超过 {limit} 位 (number longer than {limit} digits)") from None
    # No more levels than opening brackets (those inside strings only add to the count): most bodies skip the walk.
    if text.count("{") + text.count("[") > MAX_DEPTH and deeper_than(body, MAX_DEPTH):
        raise BodyRefused(_codes().malformed_body, f"嵌套超过 {MAX_DEPTH} 层 (nested too deeply)")
    if _SURROGATE_ESCAPE.search(text) and _lone_surrogate(body):
        raise BodyRefused(_codes().malformed_body, "字符串中有不成对的 \\u 代理项, 不是 Unicode 字符 (lone surrogate escape)")
    return body


# "\ud800" alone is valid JSON but no character: PostgreSQL (and UTF-8) cannot store it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(body: Any) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels (walked level by level, no recursion)."""
    level = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        inner: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            inner.extend(item for item in items if type(item) is dict or type(item) is list)
        level = inner
    return False
