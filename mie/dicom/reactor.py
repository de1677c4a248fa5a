"""Event-driven waiting for pynetdicom's acceptor associations (pynetdicom 3.0.4, pinned in pyproject.toml).

pynetdicom polls. Each association runs two threads, the DUL (socket <-> PDUs) and the association reactor
(DIMSE messages -> service handlers), and each sleeps 1 ms whenever it finds nothing to do, and the reactor
sleeps 1 ms on every loop even when busy. With a few associations open that is thousands of wake-ups a
second, each taking the GIL from the thread doing real work: measured here, 110 context switches and about
6 ms of CPU per stored instance outside the handler, and a 1 ms floor per message (pynetdicom's own TODO:
"try and make this event based rather than running loops").

Here both threads wait for what they wait on instead:
- the DUL blocks in select() on its socket and on a wake-up socket pair, which is written when the
  association queues a primitive to send (`send_pdu`) or asks the DUL to stop;
- the reactor blocks on an Event, set when a DIMSE message is complete, when the DUL hands up a
  release or abort, and when the association is killed.
Both still wake every `_IDLE_WAIT` seconds for what no event signals (timers, a dead peer thread).

Only the waiting changes: every decision is pynetdicom's own code. The reactor loop below is pynetdicom's
`Association._run_reactor` with its sleep replaced by the wait; the SCP tests run every association
through it.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, cast

from pynetdicom import evt
from pynetdicom.association import LOGGER as ASSOCIATION_LOGGER
from pynetdicom.association import Association
from pynetdicom.dul import DULServiceProvider

from mie.dicom.dimse import StoreDIMSE

# Upper bound on any wait: how late a timer (ARTIM, network idle timeout) or a dead DUL thread is noticed.
_IDLE_WAIT = 0.05


class _WakingQueue(queue.Queue):  # type: ignore[type-arg]
    """A queue that calls `wake` after every put, so that its consumer need not poll it."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._wake = wake

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self._wake()


class EventDrivenDUL(DULServiceProvider):
    """The DUL thread, waiting in select() instead of sleeping between polls."""

    _wake_reader: socket.socket
    _wake_writer: socket.socket
    _killed: bool

    @classmethod
    def adopt(cls, dul: DULServiceProvider) -> EventDrivenDUL:
        """Turn a DUL built by pynetdicom (not yet started) into an event-driven one."""
        killed = dul.__dict__.pop("_kill_thread", False)
        dul.__class__ = cls
        adopted = cast(EventDrivenDUL, dul)
        adopted._wake_reader, adopted._wake_writer = socket.socketpair()
        adopted._wake_reader.setblocking(False)
        adopted._wake_writer.setblocking(False)
        adopted._killed = killed
        # The loop's own sleep comes after a wait that found nothing; waiting is done in select() now.
        adopted._run_loop_delay = 0
        return adopted

    @property  # type: ignore[override]
    def _kill_thread(self) -> bool:
        return self._killed

    @_kill_thread.setter
    def _kill_thread(self, value: bool) -> None:
        self._killed = value
        if value:
            self.wake()

    def wake(self) -> None:
        try:
            self._wake_writer.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already signalled (buffer full) or closed: the reader wakes either way

    def send_pdu(self, primitive: Any) -> None:
        super().send_pdu(primitive)
        self.wake()

    def _is_transport_event(self) -> bool:
        # Called when nothing queued to send was found: wait for the socket, a primitive to send, or a stop.
        transport = self.socket
        connection = transport.socket if transport is not None else None
        if connection is not None and not self._killed and self.event_queue.empty() and self.to_provider_queue.empty():
            try:
                select.select([connection, self._wake_reader], [], [], _IDLE_WAIT)
            except (OSError, ValueError):
                pass  # socket closed under us: pynetdicom's own check below reports it
            self._drain_wake()
        return super()._is_transport_event()

    def _drain_wake(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._wake_reader.close()
            self._wake_writer.close()


class EventDrivenAssociation(Association):
    """An acceptor association whose reactor waits on an Event instead of sleeping 1 ms per loop."""

    _work: threading.Event

    @classmethod
    def adopt(cls, association: Association) -> EventDrivenAssociation:
        association.__class__ = cls
        adopted = cast(EventDrivenAssociation, association)
        adopted._work = threading.Event()
        EventDrivenDUL.adopt(adopted.dul)
        # The reactor's inputs: complete DIMSE messages, and release/abort primitives from the DUL.
        adopted.dimse.msg_queue = _WakingQueue(adopted._work.set)
        adopted.dul.to_user_queue = _WakingQueue(adopted._work.set)
        return adopted

    def kill(self) -> None:
        self._work.set()
        super().kill()  # returns once the DUL thread has stopped: nothing more is received
        if isinstance(self.dimse, StoreDIMSE):
            self.dimse.abandon()

    def _run_reactor(self) -> None:
        """pynetdicom 3.0.4's `Association._run_reactor`, waiting for work instead of sleeping 1 ms a loop."""
        self._is_paused = False
        while not self._kill:
            self._work.wait(_IDLE_WAIT)
            self._work.clear()  # cleared before looking, so a message put while we look wakes the next wait

            # Paused while the local user does DIMSE or ACSE messaging itself (pynetdicom's checkpoint).
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False

            context_id, message = self.dimse.get_msg(block=False)
            if message:
                self._serve_request(message, cast(int, context_id))
                self._work.set()  # another message may have completed meanwhile: look again at once

            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                ASSOCIATION_LOGGER.info("Association Released")
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                log_msg = "Association Aborted"
                if self.acse.is_aborted("a-p-abort"):
                    log_msg += " (A-P-ABORT)"
                ASSOCIATION_LOGGER.info(log_msg)
                self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires for subscribers
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                ASSOCIATION_LOGGER.error("Network timeout reached")
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return
