"""The two pieces of DICOM encoding on the C-STORE hot path, done directly instead of through pydicom.

- `file_meta`: the Part 10 preamble and File Meta Information (PS3.10 §7.1) put in front of a received
  data set to make it a file. The same elements and bytes as pynetdicom's `Event.encoded_dataset()`
  (tests compare them), without building and writing a pydicom Dataset per instance.
- `split_file`: where a Part 10 file's data set begins and its transfer syntax, so that a stored file's header
  (§2.2, C-STORE and STOW-RS alike) is read without pydicom: from the walk of its top-level elements that its
  DICOMweb entry is built from (`top_level_elements`, `header_of_elements`), or by `scan_header`.
- `scan_header`: the few attributes mie reads of a received data set (identity, character set, and what orders
  and labels it on the image page and in §2.7: series and instance numbers, frames, modality), found
  by walking element headers and skipping every value, instead of decoding the data set. Irregular data
  (truncated, big endian, deflated, nesting it cannot follow) is left to pydicom: `Irregular` says so.

Per instance, these took 0.6 ms and 0.6-1.3 ms of CPU through pydicom, and take tens of microseconds here.
"""

from __future__ import annotations

import struct

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian
from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

SPECIFIC_CHARACTER_SET = 0x00080005
SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018
ACCESSION_NUMBER = 0x00080050
STUDY_INSTANCE_UID = 0x0020000D
MODALITY = 0x00080060
SERIES_DESCRIPTION = 0x0008103E
SERIES_INSTANCE_UID = 0x0020000E
SERIES_NUMBER = 0x00200011
INSTANCE_NUMBER = 0x00200013
NUMBER_OF_FRAMES = 0x00280008
ROWS = 0x00280010
_INTEGER_STRINGS = {SERIES_NUMBER: "SeriesNumber", INSTANCE_NUMBER: "InstanceNumber", NUMBER_OF_FRAMES: "NumberOfFrames"}
HEADER_TAGS = frozenset(
    {
        SPECIFIC_CHARACTER_SET,
        SOP_CLASS_UID,
        SOP_INSTANCE_UID,
        ACCESSION_NUMBER,
        MODALITY,
        SERIES_DESCRIPTION,
        STUDY_INSTANCE_UID,
        SERIES_INSTANCE_UID,
        *_INTEGER_STRINGS,
        ROWS,
    }
)
# The walk stops past this one. Reaching it walks groups 0020-0028 too, and the private groups some modalities put
# between them (what that costs: bench/README.md, "What changed, and what each change gave").
LAST_HEADER_TAG = ROWS

# PS3.5 §7.1.2: explicit VRs whose length field is 4 bytes after 2 reserved ones.
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_VRS = _LONG_VRS | frozenset(
    {
        b"AE",
        b"AS",
        b"AT",
        b"CS",
        b"DA",
        b"DS",
        b"DT",
        b"FD",
        b"FL",
        b"IS",
        b"LO",
        b"LT",
        b"PN",
        b"SH",
        b"SL",
        b"SS",
        b"ST",
        b"TM",
        b"UI",
        b"UL",
        b"US",
    }
)
_VR_NAMES = {vr: vr.decode("ascii") for vr in _VRS}
_LONG_VR_NAMES = frozenset(vr.decode("ascii") for vr in _LONG_VRS)
_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_TAG = struct.Struct("<HH")
# Little-endian unsigned 16- and 32-bit values (US, UL, and the length fields), here and in mie.dicom.dimse.
US = struct.Struct("<H")
UL = struct.Struct("<I")
_TEXT_DELIMITERS = {0x5C}  # backslash separates values of text VRs (PS3.5 §6.1.3)


class Irregular(ValueError):
    """The data set is not one `scan_header` reads; decode it with pydicom instead."""


def scannable(transfer_syntax_uid: str) -> bool:
    return transfer_syntax_uid not in (ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)


def scan_header(data: bytes, transfer_syntax_uid: str) -> dict[str, str | int | None]:
    """The header attributes present in a little-endian data set, by keyword, as pydicom would give them; the
    integer strings (IS) and Rows as int, or None when blank or malformed (`integer_string`)."""
    if not scannable(transfer_syntax_uid):
        raise Irregular(f"transfer syntax {transfer_syntax_uid}")
    implicit = transfer_syntax_uid == ImplicitVRLittleEndian
    raw: dict[int, bytes] = {}
    _walk(data, 0, implicit, raw)
    return _header_values(raw)


def header_of_elements(data: bytes, walked: tuple[list[TopLevelElement], int, bool]) -> dict[str, str | int | None]:
    """`scan_header`'s values from `top_level_elements`' walk of the same data set (`walked`: what it returned),
    so that one walk serves both ingest and the DICOMweb index: the same elements collected (the top-level ones of
    defined length before the first tag past LAST_HEADER_TAG, a later one of a tag replacing an earlier one), and
    Irregular where scan_header's walk would be (it meets an item delimiter where the top-level walk stops)."""
    elements, stop, complete = walked
    raw: dict[int, bytes] = {}
    for tag, _vr, begin, end, undefined in elements:
        if tag > LAST_HEADER_TAG:
            break
        if tag in HEADER_TAGS and not undefined:
            raw[tag] = data[begin:end]
    else:
        # scan_header's walk reads the tag at which the top-level walk stopped (group 7FE0 or above)
        if complete and _TAG.unpack_from(data, stop)[0] == 0xFFFE:
            raise Irregular("unexpected delimiter")
    return _header_values(raw)


def _header_values(raw: dict[int, bytes]) -> dict[str, str | int | None]:
    """The header attributes by keyword from their values' bytes, as pydicom would give them (see scan_header)."""
    character_sets = _text(raw.get(SPECIFIC_CHARACTER_SET, b""), ["iso8859"]).split("\\")
    encodings = convert_encodings([value.strip() for value in character_sets if value.strip()] or ["ISO_IR 6"])
    values: dict[str, str | int | None] = {
        "SpecificCharacterSet": _text(raw.get(SPECIFIC_CHARACTER_SET, b""), ["iso8859"]),
        "AccessionNumber": _text(raw.get(ACCESSION_NUMBER, b""), encodings),
        "Modality": raw.get(MODALITY, b"").decode("ascii", "replace").strip("\x00 "),
        "SeriesDescription": _text(raw.get(SERIES_DESCRIPTION, b""), encodings),
    }
    for tag, keyword in _INTEGER_STRINGS.items():
        if tag in raw:
            values[keyword] = integer_string(raw[tag].decode("ascii", "replace"))
    if ROWS in raw:
        values["Rows"] = US.unpack(raw[ROWS])[0] if len(raw[ROWS]) == 2 else None
    for tag, keyword in (
        (SOP_CLASS_UID, "SOPClassUID"),
        (SOP_INSTANCE_UID, "SOPInstanceUID"),
        (STUDY_INSTANCE_UID, "StudyInstanceUID"),
        (SERIES_INSTANCE_UID, "SeriesInstanceUID"),
    ):
        if tag in raw:
            values[keyword] = raw[tag].rstrip(b"\x00 ").decode("ascii", "replace").strip()
    return values


def integer_string(value: object) -> int | None:
    """An IS value as an int, tolerantly: blank, several values, or not an integer (a sender's error that must
    not refuse the image) is None; "12.0" is 12, as pydicom reads it."""
    text = str(value).strip(" \x00") if value is not None else ""
    if not text or "\\" in text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    # The column is a 32-bit integer, as IS is (PS3.5 §6.2: -2^31 .. 2^31-1)
    return int(number) if number.is_integer() and -(2**31) <= number < 2**31 else None


def _text(value: bytes, encodings: list[str]) -> str:
    return decode_bytes(value, encodings, _TEXT_DELIMITERS).rstrip("\x00 ") if value else ""


def _walk(data: bytes, position: int, implicit: bool, found: dict[int, bytes] | None) -> int:
    """Walk element headers from `position`, skipping values; returns where the walk ended.

    At the top level (`found` given) the header attributes are collected into `found`, and the walk stops
    at the first tag past them. Inside an item of undefined length (`found` None) it ends just after the
    item's end marker. Values of undefined length (sequences, or UN holding one) are skipped item by item."""
    end = len(data)
    while position < end:
        if position + 8 > end:
            raise Irregular("truncated element header")
        group, element = _TAG.unpack_from(data, position)
        tag = group << 16 | element
        if found is None and tag == _ITEM_END:
            return position + 8
        if group == 0xFFFE:
            raise Irregular(f"unexpected delimiter ({group:04X},{element:04X})")
        if found is not None and tag > LAST_HEADER_TAG:
            return position
        vr = b""
        if implicit:
            (length,) = UL.unpack_from(data, position + 4)
            position += 8
        else:
            # implicit VR data under an explicit transfer syntax is irregular here: pydicom copes
            vr, length, position = _explicit_element(data, position, group, element, "truncated element header")
        if length == _UNDEFINED:
            # A sequence; UN of undefined length holds one in implicit VR (PS3.5 §6.2.2).
            position = _skip_items(data, position, implicit or vr == b"UN")
            continue
        if position + length > end:
            raise Irregular("value runs past the end of the data set")
        if found is not None and tag in HEADER_TAGS:
            found[tag] = data[position : position + length]
        position += length
    if found is None:
        raise Irregular("item without its end marker")
    return position


def _skip_items(data: bytes, position: int, implicit: bool) -> int:
    """Past the items of a sequence of undefined length, to just after its end marker."""
    end = len(data)
    while position + 8 <= end:
        group, element = _TAG.unpack_from(data, position)
        (length,) = UL.unpack_from(data, position + 4)
        position += 8
        tag = group << 16 | element
        if tag == _SEQUENCE_END:
            return position
        if tag != _ITEM:
            raise Irregular(f"expected an item, found ({group:04X},{element:04X})")
        position = position + length if length != _UNDEFINED else _walk(data, position, implicit, None)
    raise Irregular("sequence without its end marker")


def file_meta(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """Preamble, "DICM" and the File Meta Information group for a received data set (Explicit VR LE)."""
    elements = b"".join(
        (
            _explicit(0x0002, 0x0001, b"OB", b"\x00\x01"),
            _explicit(0x0002, 0x0002, b"UI", _uid(sop_class_uid)),
            _explicit(0x0002, 0x0003, b"UI", _uid(sop_instance_uid)),
            _explicit(0x0002, 0x0010, b"UI", _uid(transfer_syntax_uid)),
            _explicit(0x0002, 0x0012, b"UI", _uid(PYNETDICOM_IMPLEMENTATION_UID)),
            _explicit(0x0002, 0x0013, b"SH", even_length(PYNETDICOM_IMPLEMENTATION_VERSION, b" ")),
        )
    )
    group_length = _explicit(0x0002, 0x0000, b"UL", UL.pack(len(elements)))
    return b"\x00" * 128 + b"DICM" + group_length + elements


def _uid(value: str) -> bytes:
    return even_length(value, b"\x00")


def even_length(value: str, pad: bytes) -> bytes:
    """A text value encoded in ASCII and padded to even length (PS3.5 §7.1.1): NUL for UI, space for others."""
    encoded = value.encode("ascii", "replace")
    return encoded + pad if len(encoded) % 2 else encoded


def _explicit_element(data: bytes, position: int, group: int, element: int, truncated: str) -> tuple[bytes, int, int]:
    """An Explicit VR Little Endian element header at `position` (its tag already read): its VR, its value's
    length, and where the value begins. Irregular when the VR is not one, or the header is cut short."""
    vr = data[position + 4 : position + 6]
    if vr not in _VRS:
        raise Irregular(f"no explicit VR at ({group:04X},{element:04X})")
    if vr in _LONG_VRS:
        if position + 12 > len(data):
            raise Irregular(truncated)
        return vr, UL.unpack_from(data, position + 8)[0], position + 12
    return vr, US.unpack_from(data, position + 6)[0], position + 8


def _explicit(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    if vr in _LONG_VRS:
        return _TAG.pack(group, element) + vr + b"\x00\x00" + UL.pack(len(value)) + value
    return _TAG.pack(group, element) + vr + US.pack(len(value)) + value


TRANSFER_SYNTAX_UID = 0x0002_0010


def split_file(data: bytes) -> tuple[str, int]:
    """The transfer syntax a Part 10 file's File Meta Information names, and where its data set begins
    (PS3.10 §7.1: a 128-byte preamble, "DICM", then group 0002 in Explicit VR Little Endian). Irregular when
    the bytes are not laid out so (or end within the meta information): pydicom then reads the file."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise Irregular("no Part 10 preamble")
    position, end = 132, len(data)
    syntax = ""
    while True:
        if position + 8 > end:
            raise Irregular("truncated file meta information")
        group, element = _TAG.unpack_from(data, position)
        if group != 0x0002:
            break
        _vr, length, position = _explicit_element(data, position, group, element, "truncated file meta information")
        if position + length > end:
            raise Irregular("truncated file meta information")
        if element == TRANSFER_SYNTAX_UID & 0xFFFF:
            syntax = data[position : position + length].rstrip(b"\x00 ").decode("ascii", "replace").strip()
        position += length
    if not syntax:
        raise Irregular("no transfer syntax in the file meta information")
    return syntax, position


PIXEL_DATA_GROUP = 0x7FE0


TopLevelElement = tuple[int, str | None, int, int, bool]


def top_level_elements(
    data: bytes, position: int, implicit: bool, only: frozenset[int] | None = None
) -> tuple[list[TopLevelElement], int, bool]:
    """Every top-level element of a little-endian data set from `position` up to its pixel data (group 7FE0), as
    (tag, VR or None when implicit, where its value begins, where it ends, of undefined length) (`only`: those of
    these tags), where the walk ended, and whether it reached group 7FE0 (False: `data` ended first, which is the
    data set's end only if `data` is the whole of it).
    DICOMweb's metadata is read from these (mie/service/dicomweb_index.py). A sequence of undefined length ends
    before its end marker. Irregular when an element runs past `data`, or is not what the walk can follow."""
    # Every stored instance's header is walked here (ingest, mie.service.dicomweb_index.walk): the explicit VR
    # element header is read inline (as `_explicit_element` reads it) and the VR named from a table, not decoded.
    found: list[TopLevelElement] = []
    append = found.append
    end = len(data)
    tag_at, length_at, short_length_at = _TAG.unpack_from, UL.unpack_from, US.unpack_from
    while position < end:
        if position + 8 > end:
            raise Irregular("truncated element header")
        group, element = tag_at(data, position)
        if group >= PIXEL_DATA_GROUP:
            return found, position, True
        if group == 0xFFFE:
            raise Irregular(f"unexpected delimiter ({group:04X},{element:04X})")
        vr: str | None = None
        if implicit:
            (length,) = length_at(data, position + 4)
            position += 8
        else:
            vr = _VR_NAMES.get(data[position + 4 : position + 6])
            if vr is None:
                raise Irregular(f"no explicit VR at ({group:04X},{element:04X})")
            if vr in _LONG_VR_NAMES:
                if position + 12 > end:
                    raise Irregular("truncated element header")
                (length,) = length_at(data, position + 8)
                position += 12
            else:
                (length,) = short_length_at(data, position + 6)
                position += 8
        tag = group << 16 | element
        if length == _UNDEFINED:
            after = _skip_items(data, position, implicit or vr == "UN")
            if only is None or tag in only:
                append((tag, vr, position, after - 8, True))
            position = after
            continue
        if position + length > end:
            raise Irregular("value runs past the end of the data set")
        if only is None or tag in only:
            append((tag, vr, position, position + length, False))
        position += length
    return found, position, False
