"""The 医保影像云索引 (hiImgIndx) of §1.2: parser and builder.

Its parts are described once, in the spec (`components/schemas/HiImgIndx`, `x-parts`): each part's code,
Chinese name and pattern. The whole index's `pattern` there is the same parts joined by "-".

A part may be spelled two ways (`same-as`: a spelling and the canonical one it stands for, ERRATA E-INDEX-SPELLING):
the placeholder "0" of parts 4 and 5 is their full zeros. Two indexes whose canonical forms are equal name the same
exam: the store keeps an exam under the index as first saved and finds it by `IndexRule.canonical`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class IndexError_(ValueError):
    """An hiImgIndx that breaks §1.2; `problems` names each broken part."""

    def __init__(self, index: str, problems: list[str]) -> None:
        self.index = index
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class IndexPart:
    number: int
    code: str
    title: str
    pattern: re.Pattern[str]
    rule: str
    optional: bool
    same_as: Mapping[str, str]  # a spelling of this part -> the canonical spelling it stands for


@dataclass(frozen=True)
class HiImgIndx:
    """The parts of one index, by their §1.2 meaning."""

    psn_cert_type: str
    certno: str
    exam_time: datetime
    device_code: str
    exam_part: str
    institution_code: str | None = None  # the sixth part the document's examples carry

    def __str__(self) -> str:
        parts = [
            self.psn_cert_type,
            self.certno,
            self.exam_time.strftime("%Y%m%d%H%M%S"),
            self.device_code,
            self.exam_part,
        ]
        if self.institution_code:
            parts.append(self.institution_code)
        return "-".join(parts)


# What a part's pattern may hold for the whole-index pattern: classes of letters and digits, \d, letters and
# digits, counts, alternatives and groups. Such a part never matches a "-", so one pattern of all the parts joined
# by "-" matches exactly the indexes whose "-"-separated pieces each match their part.
_PLAIN_PART = re.compile(r"(?:\[(?:[0-9A-Za-z]-[0-9A-Za-z]|[0-9A-Za-z])+\]|\\d|[0-9A-Za-z]|\{\d+(?:,\d+)?\}|[|?*+]|\(\?:|\))*")


class IndexRule:
    """The index rule of one contract: its parts (`components/schemas/HiImgIndx`, `x-parts`), parser and builder."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.parts = tuple(
            IndexPart(
                number=number,
                code=part["code"],
                title=part["title"],
                pattern=re.compile(f"^(?:{part['pattern']})$"),
                rule=part.get("description", part["pattern"]),
                optional=bool(part.get("optional")),
                same_as=dict(part.get("same-as", {})),
            )
            for number, part in enumerate(schema["x-parts"], start=1)
        )
        self.whole_pattern = self._whole_pattern()
        self._respelled = tuple((part.number - 1, part.same_as) for part in self.parts if part.same_as)
        # cached per rule: a record's index is checked by its field rule and again when it is stored
        self.parse = functools.lru_cache(maxsize=4096)(self._parse)

    def _whole_pattern(self) -> re.Pattern[str] | None:
        """All the parts in one pattern (with as many optional ones at the end as an index may have), for the
        indexes that break nothing: one match instead of one per part. None when a part is not plain."""
        bodies = []
        for part in self.parts:
            text = part.pattern.pattern
            if not (text.startswith("^(?:") and text.endswith(")$")) or not _PLAIN_PART.fullmatch(text[4:-2]):
                return None
            bodies.append(f"(?:{text[4:-2]})")
        mandatory = max(1, sum(1 for part in self.parts if not part.optional))
        tail = ""  # the optional parts, each only after the one before it: P1-...-Pm(?:-Pm+1(?:-Pm+2)?)?
        for body in reversed(bodies[mandatory:]):
            tail = f"(?:-{body}{tail})?"
        return re.compile("-".join(bodies[:mandatory]) + tail)

    def _parse(self, index: str) -> HiImgIndx:
        """Split and check an index; every broken part is named in the error."""
        parts = self.parts
        pieces = index.split("-")
        problems: list[str] = []
        if self.whole_pattern is None or not self.whole_pattern.fullmatch(index):  # part by part, to name each broken one
            mandatory = sum(1 for part in parts if not part.optional)
            if not mandatory <= len(pieces) <= len(parts):
                detail = f"应由 {mandatory} 个部分(可带第 {len(parts)} 部分)以 '-' 连接, 实为 {len(pieces)} 个部分"
                raise IndexError_(index, [detail])
            for part, piece in zip(parts, pieces, strict=False):
                if not part.pattern.fullmatch(piece):
                    problems.append(f"第{part.number}部分 {part.title}({part.code}) '{piece}' 不符合: {part.rule}")
        exam_time = None
        if not problems:
            text = pieces[2]  # 14 digits, by its part's pattern: read as strptime's %Y%m%d%H%M%S reads them, without
            try:  # its locale look-up on every call (a third of `mie validate`'s time per §2.1 record)
                numbers = (int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:]))
                exam_time = datetime(*numbers)
            except ValueError:
                problems.append(f"第3部分 {parts[2].title} '{pieces[2]}' 不是有效的日期时间")
        if problems or exam_time is None:
            raise IndexError_(index, problems)
        return HiImgIndx(
            psn_cert_type=pieces[0],
            certno=pieces[1],
            exam_time=exam_time,
            device_code=pieces[3],
            exam_part=pieces[4],
            institution_code=pieces[5] if len(pieces) > 5 else None,
        )

    def canonical(self, index: str) -> str:
        """The index with each part in its canonical spelling: the key that names its exam (the index itself when
        every part already is; an index too broken to split is its own key)."""
        pieces = index.split("-")
        changed = False
        for position, same_as in self._respelled:
            if position < len(pieces) and pieces[position] in same_as:
                pieces[position] = same_as[pieces[position]]
                changed = True
        return "-".join(pieces) if changed else index

    def spelling_note(self, index: str) -> str | None:
        """Information, for an index with a part spelled otherwise than canonically: which spelling is canonical
        (both name the same exam). None for a canonical index."""
        pieces = index.split("-")
        respelled = [
            f"第{number + 1}部分{self.parts[number].title} '{pieces[number]}' 与 '{same_as[pieces[number]]}'"
            for number, same_as in self._respelled
            if number < len(pieces) and pieces[number] in same_as
        ]
        if not respelled:
            return None
        return f"索引{', '.join(respelled)} 指同一检查, 规范写法为后者 (ERRATA E-INDEX-SPELLING)"

    def problem(self, index: str) -> str | None:
        """What is wrong with an index, or None."""
        try:
            self.parse(index)
        except IndexError_ as error:
            return str(error)
        return None

    def build(
        self,
        psn_cert_type: str,
        certno: str,
        exam_time: datetime,
        device_code: str = "0" * 13,
        exam_part: str = "0" * 9,
        institution_code: str | None = None,
    ) -> str:
        """Compose an index from its parts, checked as `parse` checks it (the builder never makes a bad one)."""
        index = str(HiImgIndx(psn_cert_type, certno.upper(), exam_time, device_code, exam_part, institution_code))
        self.parse(index)
        return index
