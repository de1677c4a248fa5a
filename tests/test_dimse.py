"""mie's C-STORE request reading and response encoding (mie/dicom/dimse.py) agree with pynetdicom's."""

from __future__ import annotations

from io import BytesIO

import pytest
from pynetdicom import AE, _config
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import C_ECHO_RQ, C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_ECHO, C_STORE
from pynetdicom.presentation import PresentationContext

from mie.dicom.dimse import StoreDIMSE, c_store_request, c_store_rsp_command_set


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


def _received(provider: DIMSEServiceProvider, primitive: C_STORE, max_pdu: int) -> C_STORE:
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    for pdata in message.encode_msg(7, max_pdu):
        provider.receive_primitive(pdata)
    context_id, received = provider.msg_queue.get(timeout=1)
    assert context_id == 7
    return received


@pytest.mark.parametrize("max_pdu", [0, 16382, 200])  # 200: the data set arrives in many fragments
@pytest.mark.parametrize("move_originator", [False, True])  # with a Move Originator: pynetdicom's own path
def test_c_store_rq_is_read_as_pynetdicom_reads_it(max_pdu: int, move_originator: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", False)  # pynetdicom's data set in memory, to compare
    primitive = C_STORE()
    primitive.MessageID = 12345
    primitive.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    primitive.AffectedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.12345"  # odd length: padded
    primitive.Priority = 2
    if move_originator:
        primitive.MoveOriginatorApplicationEntityTitle = "MOVER"
        primitive.MoveOriginatorMessageID = 3
    primitive.DataSet = BytesIO(bytes(range(256)) * 9)

    theirs = _received(Association(AE(), MODE_ACCEPTOR).dimse, primitive, max_pdu)
    ours_provider = StoreDIMSE.adopt(Association(AE(), MODE_ACCEPTOR).dimse)
    ours = _received(ours_provider, primitive, max_pdu)
    fields = (
        "MessageID",
        "AffectedSOPClassUID",
        "AffectedSOPInstanceUID",
        "Priority",
        "MoveOriginatorApplicationEntityTitle",
        "MoveOriginatorMessageID",
    )
    assert [getattr(ours, field) for field in fields] == [getattr(theirs, field) for field in fields]
    assert ours.DataSet.getvalue() == theirs.DataSet.getvalue() == bytes(range(256)) * 9
    assert ours._context_id == theirs._context_id == 7
    assert ours_provider._receiving is None
    # the plain request is read by mie, the one with a Move Originator left to pynetdicom
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    command_set = next(message.encode_msg(7, 0)).presentation_data_value_list[0][1][1:]
    assert (c_store_request(command_set) is None) == move_originator
    assert c_store_request(command_set[:-3]) is None  # truncated


def test_only_a_plain_c_store_rq_is_read_here() -> None:
    echo = C_ECHO_RQ()
    request = C_ECHO()
    request.MessageID = 1
    echo.primitive_to_message(request)
    [pdata] = list(echo.encode_msg(1, 0))
    assert c_store_request(pdata.presentation_data_value_list[0][1][1:]) is None


class RecordingSink:
    def __init__(self) -> None:
        self.data, self.discarded = bytearray(), False

    def write(self, data: bytes | memoryview) -> None:
        self.data += data

    def discard(self) -> None:
        self.discarded = True


def test_a_data_set_goes_to_its_sink_and_an_ended_association_discards_what_it_will_not_serve() -> None:
    sinks: list[tuple[RecordingSink, str]] = []

    def open_sink(request: C_STORE, transfer_syntax: str) -> RecordingSink:
        sinks.append((RecordingSink(), transfer_syntax))
        return sinks[-1][0]

    association = Association(AE(), MODE_ACCEPTOR)
    context = PresentationContext()
    context.context_id, context.abstract_syntax, context.transfer_syntax = 7, "1.2.840.10008.5.1.4.1.1.2", ["1.2.840.10008.1.2.1"]
    association._accepted_cx = {7: context}
    provider = StoreDIMSE.adopt(association.dimse, open_sink)
    primitive = C_STORE()
    primitive.MessageID, primitive.Priority = 1, 2
    primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4"
    primitive.DataSet = BytesIO(bytes(range(256)) * 9)
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    pdatas = list(message.encode_msg(7, 200))
    for pdata in pdatas:  # one whole request, queued for the reactor
        provider.receive_primitive(pdata)
    for pdata in pdatas[:3]:  # and one cut off after its command set and first fragments
        provider.receive_primitive(pdata)
    (whole, syntax), (cut, _) = sinks
    assert whole.data == bytes(range(256)) * 9 and syntax == "1.2.840.10008.1.2.1"
    assert 0 < len(cut.data) < len(whole.data)
    assert not whole.discarded and not cut.discarded
    provider.abandon()  # the association ended: neither will be served
    assert whole.discarded and cut.discarded and provider.msg_queue.empty()
