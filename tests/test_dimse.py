"""mie's C-STORE response encoding (mie/dicom/dimse.py) is byte for byte pynetdicom's."""

from __future__ import annotations

import pytest
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE

from mie.dicom.dimse import c_store_rsp_command_set


def _pynetdicoms(primitive: C_STORE) -> bytes:
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    [pdata] = list(message.encode_msg(1, 0))
    [(context_id, pdv)] = pdata.presentation_data_value_list
    assert (context_id, pdv[:1]) == (1, b"\x03")  # one last-fragment command PDV
    return pdv[1:]


@pytest.mark.parametrize(
    ("status", "sop_class", "sop_instance", "comment"),
    [
        (0x0000, "1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.3680043.8.498.1234", None),  # even UIDs
        (0x0000, "1.2.840.10008.5.1.4.1.1.4", "1.2.826.0.1.3680043.8.498.12345", None),  # odd: NUL-padded
        (0xC001, "1.2.840.10008.5.1.4.1.1.7", "2.25.99", "not_registered"),  # even comment
        (0xA700, "1.2.840.10008.5.1.4.1.1.7", "2.25.99", "storage failed"),
        (0x0110, "1.2.840.10008.5.1.4.1.1.7", "2.25.99", "odd"),  # odd comment: space-padded
        (0xC000, None, None, "cannot understand"),
    ],
)
def test_c_store_rsp_is_pynetdicoms(status: int, sop_class: str | None, sop_instance: str | None, comment: str | None) -> None:
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 4321
    primitive.Status = status
    primitive.AffectedSOPClassUID = sop_class
    primitive.AffectedSOPInstanceUID = sop_instance
    primitive.ErrorComment = comment
    assert c_store_rsp_command_set(4321, status, sop_class, sop_instance, comment) == _pynetdicoms(primitive)
