"""spec/dictionaries/: a faithful transcription of chapter 3, and the only source of the spec's codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mie.contract import current
from mie.contract.dictionaries import allowed_codes, multi_code_pattern
from mie.contract.spec import REPO_ROOT
from tests.test_spec import every_schema

CONTRACT = current()

SEED = REPO_ROOT.parent / "shared" / "seeds" / "000_f089e2785de20b25.txt"


def chapter_3() -> str:
    if not SEED.exists():
        pytest.skip(f"the specification text is not beside this checkout ({SEED})")
    text = SEED.read_text(encoding="utf-8")
    return text[text.rindex("第三章 数据字典") :]


def printed_codes(section: str, next_section: str | None) -> list[str]:
    """The code cells of one dictionary table of chapter 3: every other cell, from the first."""
    text = chapter_3()
    start = text.index(section)
    body = text[start : text.index(next_section, start) if next_section else None]
    cells: list[str] = []
    for line in body.splitlines()[1:]:
        if not line.strip() or line.startswith("代码"):
            continue
        cells += [cell.strip() for cell in line.split("\t")[0::2] if cell.strip()]
    return [cell for cell in cells if re.fullmatch(r"[0-9A-Z]+", cell)]


SECTIONS = [
    ("gend", "3.1. 性别", "3.2."),
    ("hosp_lv", "3.2. 医院等级", "3.3."),
    ("img_exam_type", "3.3. 影像检查类型", "3.4."),
    ("prfs", "3.4. 职业", "3.5."),
    ("chargeType", "3.5. 费用类型", "3.6."),
    ("examPart", "3.6. 检查部位", None),
]


@pytest.mark.parametrize(("name", "section", "next_section"), SECTIONS)
def test_every_printed_code_is_transcribed_and_nothing_else(name: str, section: str, next_section: str | None) -> None:
    printed = printed_codes(section, next_section)
    entries = CONTRACT.dictionaries[name].codes
    assert {entry.code for entry in entries} == set(printed)
    assert sum(1 + len(entry.also_printed_as) for entry in entries) == len(printed)


def test_dictionary_files_are_well_formed() -> None:
    for name, dictionary in CONTRACT.dictionaries.items():
        codes = [entry.code for entry in dictionary.codes]
        assert len(codes) == len(set(codes)), name
        assert all(isinstance(code, str) and code for code in codes), name
        assert all(entry.name for entry in dictionary.codes), name


def test_certificate_types_hold_the_common_ga_t_2000_156_codes() -> None:
    codes = {entry.code: entry.name for entry in CONTRACT.dictionaries["psnCertType"].codes}
    assert {"111", "112", "113", "114", "115", "414", "511", "516", "553", "990"} <= set(codes)
    assert codes["111"] == "居民身份证" and all(re.fullmatch(r"\d{3}", code) for code in codes)


def test_every_coded_field_names_a_dictionary_and_carries_its_codes() -> None:
    fields = [schema for schema in every_schema(CONTRACT.document) if "x-dictionary" in schema]
    assert {field["x-dictionary"] for field in fields} == set(CONTRACT.dictionaries)
    for field in fields:
        codes = allowed_codes(field, CONTRACT.dictionaries)
        if "x-separator" in field:
            assert multi_code_pattern(codes, field["x-separator"]) in field["pattern"]
        else:
            assert set(codes) <= set(field["enum"])


def test_spec_dictionary_dir_holds_only_dictionaries() -> None:
    assert {path.suffix for path in Path(REPO_ROOT / "spec" / "dictionaries").iterdir()} == {".yaml"}
