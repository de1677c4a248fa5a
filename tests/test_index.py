"""hiImgIndx (§1.2): parser and builder, with an error naming each broken part."""

from __future__ import annotations

from datetime import datetime

import pytest

from mie.contract import current
from mie.contract.index import IndexError_

CONTRACT = current()

EXAMPLE = "111-110101197804050038-20241122143000-0000000000000-000000000-123502004266007980"


def test_the_documents_index_parses() -> None:
    parts = CONTRACT.index.parse(EXAMPLE)
    assert parts.psn_cert_type == "111" and parts.certno == "110101197804050038"
    assert parts.exam_time == datetime(2024, 11, 22, 14, 30)
    assert str(parts) == EXAMPLE


def test_build_round_trips_and_uppercases_the_certificate_number() -> None:
    built = CONTRACT.index.build("111", "11010119880405003x", datetime(2024, 11, 22, 14, 30, 55))
    assert built == "111-11010119880405003X-20241122143055-0000000000000-000000000"
    assert str(CONTRACT.index.parse(built)) == built


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("1111111-110101197804050038-20241122143000-0000000000000-000000000", "第1部分 证件类型"),
        ("111-11010119780405003x-20241122143000-0000000000000-000000000", "第2部分 证件号码"),
        ("111-110101197804050038-2024112214300-0000000000000-000000000", "第3部分 检查日期时间代码"),
        ("111-110101197804050038-20241322143000-0000000000000-000000000", "不是有效的日期时间"),
        ("111-110101197804050038-20241122143000-00000000000000-000000000", "第4部分 成像设备代码"),
        ("111-110101197804050038-20241122143000-0000000000000-0000000000", "第5部分 检查部位代码"),
        ("111-110101197804050038-20241122143000-0000000000000", "实为 4 个部分"),
    ],
)
def test_each_broken_part_is_named(text: str, part: str) -> None:
    with pytest.raises(IndexError_, match=part):
        CONTRACT.index.parse(text)


def test_builder_refuses_what_the_parser_refuses() -> None:
    with pytest.raises(IndexError_):
        CONTRACT.index.build("111", "1101-01", datetime(2024, 1, 1))


def test_the_spec_pattern_and_the_parser_agree() -> None:
    import re

    pattern = re.compile(CONTRACT.component("HiImgIndx")["pattern"])
    samples = [EXAMPLE, EXAMPLE.rsplit("-", 1)[0], EXAMPLE.replace("-000000000-", "-B020ZYZZZ-"), EXAMPLE + "0", "a-b-c-d-e"]
    for sample in samples:
        try:
            CONTRACT.index.parse(sample)
            parsed = True
        except IndexError_:
            parsed = False
        assert bool(pattern.match(sample)) is parsed, sample
