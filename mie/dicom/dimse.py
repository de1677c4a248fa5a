"""The C-STORE response, encoded directly (pynetdicom 3.0.4, pinned).

pynetdicom answers each C-STORE by building a pydicom Dataset for the command set, encoding it with
pydicom and wrapping it in a P-DATA primitive: about 1 ms of CPU per instance, the largest single cost of
pynetdicom's per message after mie's own work was cut. The command set of a C-STORE-RSP is a handful of
fixed elements (PS3.7 §9.3.1.2), so it is encoded here in a few microseconds, byte for byte what
pynetdicom would send (tests compare both). Anything unusual (an Offending Element, a command set too
large for one PDV, a handler bound to EVT_DIMSE_SENT) still goes through pynetdicom.
"""

from __future__ import annotations

import struct
from typing import Any

from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu_primitives import P_DATA

C_STORE_RSP = 0x8001
NO_DATA_SET = 0x0101
_ELEMENT = struct.Struct("<HHI")
_US = struct.Struct("<H")
_UL = struct.Struct("<I")
# A PDV item's own header within a P-DATA-TF PDU (PS3.8 §9.3.5.1): item length (4), context ID (1), control (1).
_PDV_OVERHEAD = 6
_LAST_COMMAND_FRAGMENT = b"\x03"


def c_store_rsp_command_set(
    message_id: int, status: int, sop_class_uid: str | None, sop_instance_uid: str | None, error_comment: str | None
) -> bytes:
    """The command set of a C-STORE-RSP in Implicit VR Little Endian, elements in tag order (PS3.7 §6.3.1)."""
    elements = b"".join(
        element
        for element in (
            _implicit(0x0002, _padded(sop_class_uid, b"\x00")) if sop_class_uid else b"",
            _implicit(0x0100, _US.pack(C_STORE_RSP)),
            _implicit(0x0120, _US.pack(message_id)),
            _implicit(0x0800, _US.pack(NO_DATA_SET)),
            _implicit(0x0900, _US.pack(status)),
            _implicit(0x0902, _padded(error_comment, b" ")) if error_comment else b"",
            _implicit(0x1000, _padded(sop_instance_uid, b"\x00")) if sop_instance_uid else b"",
        )
    )
    return _implicit(0x0000, _UL.pack(len(elements))) + elements


def _implicit(element: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0x0000, element, len(value)) + value


def _padded(value: str, pad: bytes) -> bytes:
    encoded = value.encode("ascii", "replace")
    return encoded + pad if len(encoded) % 2 else encoded


class FastStoreResponseDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider, sending plain C-STORE responses without building a pydicom Dataset."""

    @classmethod
    def adopt(cls, provider: DIMSEServiceProvider) -> FastStoreResponseDIMSE:
        provider.__class__ = cls
        return provider  # type: ignore[return-value]

    def send_msg(self, primitive: Any, context_id: int) -> None:
        if not (
            isinstance(primitive, C_STORE)
            and primitive.MessageIDBeingRespondedTo is not None
            and primitive.Status is not None
            and primitive.OffendingElement is None
            and not self.assoc.get_handlers(evt.EVT_DIMSE_SENT)
        ):
            super().send_msg(primitive, context_id)
            return
        command_set = c_store_rsp_command_set(
            primitive.MessageIDBeingRespondedTo,
            primitive.Status,
            primitive.AffectedSOPClassUID,
            primitive.AffectedSOPInstanceUID,
            primitive.ErrorComment,
        )
        if self.maximum_pdu_size and len(command_set) > self.maximum_pdu_size - _PDV_OVERHEAD:
            super().send_msg(primitive, context_id)  # would need fragmenting: pynetdicom does that
            return
        pdata = P_DATA()
        pdata.presentation_data_value_list.append((context_id, _LAST_COMMAND_FRAGMENT + command_set))
        self.dul.send_pdu(pdata)
