"""C-STORE requests read and responses encoded directly (pynetdicom 3.0.4, pinned).

pynetdicom decodes every command set into a pydicom Dataset and converts it into a primitive, and answers
each C-STORE by building another Dataset and encoding it with pydicom: together about 1.5 ms of CPU per
instance, the largest costs of pynetdicom's per message once mie's own work was cut. The command sets of
a C-STORE-RQ and a C-STORE-RSP are a handful of fixed elements (PS3.7 §9.3.1.1 and §9.3.1.2), so they are
read and written here in microseconds, giving the same primitive and the same bytes as pynetdicom (tests
compare both). Anything unusual (another message, an element not in the plain C-STORE-RQ, a fragmented
command set, an Offending Element, handlers bound to the DIMSE events) still goes through pynetdicom.

The data set of a plain C-STORE-RQ is written, fragment by fragment as it arrives, into a sink the SCP opens
for it (`OpenSink`: mie's spool), never gathered in memory; without one (tests compare with pynetdicom) it
is gathered in the request's `DataSet` as pynetdicom does.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol, cast

from pynetdicom import evt
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu_primitives import P_DATA

from mie.service.part10 import UL, US, even_length

log = logging.getLogger("mie.dicom")

C_STORE_RQ = 0x0001
C_STORE_RSP = 0x8001
NO_DATA_SET = 0x0101
_ELEMENT = struct.Struct("<HHI")
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
            _implicit(0x0002, even_length(sop_class_uid, b"\x00")) if sop_class_uid else b"",
            _implicit(0x0100, US.pack(C_STORE_RSP)),
            _implicit(0x0120, US.pack(message_id)),
            _implicit(0x0800, US.pack(NO_DATA_SET)),
            _implicit(0x0900, US.pack(status)),
            _implicit(0x0902, even_length(error_comment, b" ")) if error_comment else b"",
            _implicit(0x1000, even_length(sop_instance_uid, b"\x00")) if sop_instance_uid else b"",
        )
    )
    return _implicit(0x0000, UL.pack(len(elements))) + elements


# The elements of a plain C-STORE-RQ (PS3.7 Table 9.3-1), but the Move Originator's: (element, VR) by tag.
_C_STORE_RQ_ELEMENTS = {
    0x0000: "UL",  # Command Group Length
    0x0002: "UI",  # Affected SOP Class UID
    0x0100: "US",  # Command Field
    0x0110: "US",  # Message ID
    0x0700: "US",  # Priority
    0x0800: "US",  # Command Data Set Type
    0x1000: "UI",  # Affected SOP Instance UID
}


def c_store_request(command_set: bytes) -> C_STORE | None:
    """The C-STORE request primitive of an Implicit VR Little Endian command set, as pynetdicom would make
    it; None if the command set is anything but a plain C-STORE-RQ with a data set (pynetdicom's turn)."""
    values: dict[int, bytes] = {}
    position, end = 0, len(command_set)
    while position < end:
        if position + 8 > end:
            return None
        group, element, length = _ELEMENT.unpack_from(command_set, position)
        position += 8
        if group != 0x0000 or element not in _C_STORE_RQ_ELEMENTS or position + length > end:
            return None
        values[element] = command_set[position : position + length]
        position += length
    try:
        if (
            US.unpack(values[0x0100])[0] != C_STORE_RQ
            or US.unpack(values[0x0800])[0] == NO_DATA_SET
            or UL.unpack(values[0x0000])[0] != end - 12
        ):
            return None
        request = C_STORE()
        request.MessageID = US.unpack(values[0x0110])[0]
        request.AffectedSOPClassUID = values[0x0002].rstrip(b"\x00 ").decode("ascii")
        request.AffectedSOPInstanceUID = values[0x1000].rstrip(b"\x00 ").decode("ascii")
        request.Priority = US.unpack(values[0x0700])[0]
    except (KeyError, struct.error, UnicodeDecodeError, ValueError, TypeError):
        return None
    return request


def _implicit(element: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0x0000, element, len(value)) + value


class DataSetSink(Protocol):
    """Where a received data set's fragments are written."""

    def write(self, data: bytes | memoryview) -> None: ...

    def discard(self) -> None: ...


OpenSink = Callable[[C_STORE, str], DataSetSink]
"""Opens the sink of a C-STORE request's data set, given the request and the negotiated transfer syntax."""


class StoreDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider, reading plain C-STORE requests and sending plain C-STORE responses
    without building pydicom Datasets.

    A request read here carries, once complete, `received`: the sink its data set was written into (or None
    without an `OpenSink`), and `receive_error`: the OSError that stopped writing it, if one did (the rest of
    the data set is then read and dropped, and the handler answers a failure)."""

    _receiving: C_STORE | None
    _sink: DataSetSink | BytesIO | None
    _open_sink: OpenSink | None

    @classmethod
    def adopt(cls, provider: DIMSEServiceProvider, open_sink: OpenSink | None = None) -> StoreDIMSE:
        provider.__class__ = cls
        adopted = cast(StoreDIMSE, provider)
        adopted._receiving = None
        adopted._sink = None
        adopted._open_sink = open_sink
        return adopted

    def receive_primitive(self, primitive: Any) -> None:
        request = self._receiving
        if request is not None:  # the data set of a C-STORE-RQ read here
            for context_id, data in primitive.presentation_data_value_list:
                if data[0] & 1 or context_id != request._context_id:
                    # A command where the rest of the data set should be: what pynetdicom calls invalid.
                    self._drop(request)
                    self._receiving = None
                    self.dul.event_queue.put("Evt19")
                    return
                self._write(request, memoryview(data)[1:])
                if data[0] & 2:  # the last fragment
                    self._receiving = None
                    self._sink = None
                    self.msg_queue.put((context_id, request))
            return
        values = primitive.presentation_data_value_list
        if (
            self.message is None
            and len(values) == 1
            and values[0][1][0] & 3 == 3  # a whole command set in one fragment
            and not self.assoc.get_handlers(evt.EVT_DIMSE_RECV)
        ):
            context_id, data = values[0]
            request = c_store_request(data[1:])
            context = self.assoc._accepted_cx.get(context_id)
            if request is not None and context is not None:
                request._context_id = context_id
                request._dataset_path = None  # as pynetdicom's message_to_primitive sets them
                request._dataset_file = None
                request.DataSet = BytesIO()
                request.received = None
                request.receive_error = None
                self._sink = request.DataSet
                if self._open_sink is not None:
                    try:
                        self._sink = request.received = self._open_sink(request, str(context.transfer_syntax[0]))
                    except OSError as error:
                        self._failed(request, error)
                self._receiving = request
                return
        super().receive_primitive(primitive)

    def _write(self, request: C_STORE, data: memoryview) -> None:
        if self._sink is None:
            return  # writing failed: the rest is dropped
        try:
            self._sink.write(data)
        except OSError as error:
            self._failed(request, error)

    def _failed(self, request: C_STORE, error: OSError) -> None:
        log.error("C-STORE data set of %s could not be written: %s", request.AffectedSOPInstanceUID, error)
        request.receive_error = error
        self._drop(request)
        self._sink = None

    @staticmethod
    def _drop(request: C_STORE) -> None:
        received = getattr(request, "received", None)
        if received is not None:
            received.discard()
            request.received = None

    def abandon(self) -> None:
        """Discard the data sets this association received that will never be served (it ended): the one cut off
        mid-way and complete ones still queued; pynetdicom's own temporary files of such requests too."""
        if self._receiving is not None:
            self._drop(self._receiving)
            self._receiving = None
        message = self.message
        if message is not None and getattr(message, "_data_set_file", None) is not None:
            _unlink_temporary(message._data_set_file)
        while True:
            _context_id, request = self.get_msg(block=False)
            if request is None:
                return
            self._drop(request)
            if getattr(request, "_dataset_file", None) is not None:
                _unlink_temporary(request._dataset_file)

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


def _unlink_temporary(file: Any) -> None:
    file.close()
    Path(file.name).unlink(missing_ok=True)
