"""The DICOM Storage SCP (PS3.4 Annex B) that `mie serve` starts beside HTTP.

It reads like pynetdicom's storescp: an AE, its presentation contexts, a handler per event. The C-STORE
handler spools the bytes as received (never decoded or transcoded) and calls the same ingest service as
HTTP's saveImgFile; it only maps the outcome to a DICOM status. Calling AE titles are the institutions'
(`mie institution add CODE --key KEY --ae-title AE`); any other caller is rejected at association.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydicom.dataset import Dataset
from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import RequestHandler, ThreadedAssociationServer

from mie.config import Settings
from mie.dicom.dimse import OpenSink, StoreDIMSE
from mie.dicom.reactor import EventDrivenAssociation
from mie.runtime import Runtime
from mie.service.ingest import (
    NOT_REGISTERED,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    STATUS_OF_REFUSAL,
    IngestRefused,
    ingest_spooled_received,
    receive_into_spool,
)
from mie.service.institutions import institutions_by_ae_title

log = logging.getLogger("mie.dicom")

# Accept every storage SOP class, private ones included; it also spares the per-association context search.
_config.UNRESTRICTED_STORAGE_SERVICE = True
# The data sets that pynetdicom reads itself (mie.dicom.dimse reads the plain C-STORE-RQ's) go to a temporary
# file rather than memory: no data set is ever held whole.
_config.STORE_RECV_CHUNKED_DATASET = True
# pynetdicom's "standard" event handlers format a summary of every DIMSE message for its debug log even when
# nothing is logged (0.4 ms per C-STORE); mie logs what it stores itself.
_config.LOG_HANDLER_LEVEL = "none"

# PS3.4 Annex B.2.3 C-STORE statuses; a refusal's is the same as STOW-RS's failure reason (mie/service/ingest.py).
SUCCESS = 0x0000

# Longer than any AE title (16 characters), so it matches no caller: with no institution registered for
# DICOM, every association is rejected (an empty list would make pynetdicom accept anyone).
_NOBODY = "<no AE title registered>"


class _CallingAETitles:
    """The AE titles of registered institutions, re-read every few seconds (institutions are added live)."""

    def __init__(self, runtime: Runtime, ttl: float = 5.0) -> None:
        self._runtime = runtime
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._by_title: dict[str, str] = {}

    def by_title(self) -> dict[str, str]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl:
                self._by_title = institutions_by_ae_title(self._runtime.database)
                self._loaded_at = time.monotonic()
            return self._by_title

    def refresh(self) -> None:
        with self._lock:
            self._loaded_at = 0.0


_HEAD_START_PER_ASSOCIATION = 0.003  # seconds
MAXIMUM_PDU_SIZE = 1024 * 1024


class _SCPServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, optionally on a listening socket it did not bind itself: the one socket
    that all SCP processes of `mie serve --dicom-workers N` share. Each process waits on it, and whichever
    is free first accepts the next association (one Python process cannot use more than one core). Sharing
    one socket balances by who is free; SO_REUSEPORT spreads associations by a hash of their addresses, and
    in the runs measured here it gave one process three or four of four associations."""

    def __init__(self, *args: Any, listening: socket.socket | None = None, **kwargs: Any) -> None:
        self._listening = listening
        self.shared = listening is not None
        # Connections accepted whose association thread has not started yet (active_associations lags).
        self.starting = 0
        self.starting_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, Any]:
        if self.shared:
            # Every process wakes for a new connection; one with associations already running gives the
            # others a head start, so that associations spread over the processes (measured: without it,
            # the process first awake took three of four).
            busy = len(self.active_associations) + self.starting
            if busy:
                time.sleep(_HEAD_START_PER_ASSOCIATION * busy)
        request = super().get_request()
        with self.starting_lock:
            self.starting += 1
        return request

    def association_started(self) -> None:
        with self.starting_lock:
            self.starting -= 1

    def server_bind(self) -> None:
        if self._listening is None:
            super().server_bind()
            return
        self.socket.close()
        self.socket = self._listening
        self.server_address = self.socket.getsockname()

    def server_activate(self) -> None:
        if self._listening is None:
            super().server_activate()


class _AcceptorRequestHandler(RequestHandler):
    """Builds pynetdicom's acceptor association for each connection, then makes it wait on events instead
    of polling (mie.dicom.reactor) and read C-STORE requests and write their responses without pydicom
    Datasets (mie.dicom.dimse)."""

    def _create_association(self) -> Association:
        association = EventDrivenAssociation.adopt(super()._create_association())
        StoreDIMSE.adopt(association.dimse, cast(InstitutionAE, self.ae).open_sink)
        return association

    def handle(self) -> None:
        try:
            super().handle()  # starts the association's thread
        finally:
            cast(_SCPServer, self.server).association_started()


class InstitutionAE(AE):
    """An AE whose required calling AE titles are the registered institutions' (looked up per association)."""

    def __init__(self, titles: _CallingAETitles, ae_title: str, open_sink: OpenSink) -> None:
        super().__init__(ae_title=ae_title)
        self._titles = titles
        self.open_sink = open_sink  # where each association writes the data sets it receives

    @property  # type: ignore[override]
    def require_calling_aet(self) -> list[str]:
        return list(self._titles.by_title()) or [_NOBODY]

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:  # pragma: no cover - fixed by design
        raise AttributeError("calling AE titles come from the registered institutions")


@dataclass
class StorageSCP:
    runtime: Runtime
    host: str
    port: int
    ae_title: str
    listening: socket.socket | None = None  # a listening socket shared with other SCP processes
    server: ThreadedAssociationServer | None = None

    def __post_init__(self) -> None:
        self.titles = _CallingAETitles(self.runtime)
        self.ae = InstitutionAE(self.titles, self.ae_title, self.open_sink)
        # The largest PDU we accept (PS3.8 D.1): pynetdicom's default of 16 kB splits a 0.5 MB image into 32
        # PDUs, each decoded and queued between threads in Python; 1 MiB took one association's rate from
        # 59 to 67 instances/s. SCUs send at most this and at most what they are able to.
        self.ae.maximum_pdu_size = MAXIMUM_PDU_SIZE
        # With UNRESTRICTED_STORAGE_SERVICE no storage context needs listing (pynetdicom ignores them), and
        # listing them all (170 SOP classes x 45 transfer syntaxes) cost about 70 ms per association.
        self.ae.add_supported_context(Verification)

    def start(self) -> None:
        handlers = [
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_C_ECHO, self.handle_echo),
            (evt.EVT_ESTABLISHED, self.handle_established),
        ]
        server = self.ae.make_server(
            (self.host, self.port),
            evt_handlers=handlers,
            server_class=_SCPServer,
            request_handler=_AcceptorRequestHandler,
            listening=self.listening,
        )
        threading.Thread(target=server.serve_forever, name=f"mie-scp-{self.port}", daemon=True).start()
        self.ae._servers.append(server)  # as AE.start_server does: server.shutdown() removes it again
        self.server = server
        self.port = server.server_address[1]
        log.info("DICOM SCP %s listening on %s:%d", self.ae_title, self.host, self.port)

    def share(self) -> socket.socket:
        """The listening socket, made ready to be shared with other SCP processes (`run_worker`)."""
        assert self.server is not None, "start() first"
        # Every process waits for it in select() and then accepts: non-blocking, so that those who lose the
        # race for a connection go back to waiting instead of blocking in accept().
        self.server.socket.setblocking(False)
        self.server.shared = True  # type: ignore[attr-defined]
        return self.server.socket

    def open_sink(self, request: Any, transfer_syntax_uid: str) -> Any:
        """The spool file a C-STORE request's data set is written into as it arrives."""
        return receive_into_spool(
            self.runtime.store, str(request.AffectedSOPClassUID), str(request.AffectedSOPInstanceUID), transfer_syntax_uid
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def handle_established(self, event: evt.Event) -> None:
        requestor = event.assoc.requestor
        calling_ae = requestor.ae_title.strip()
        log.info(
            "association from %s (%s) at %s:%s, in process %d",
            calling_ae,
            self.titles.by_title().get(calling_ae, "?"),
            requestor.address,
            requestor.port,
            os.getpid(),
        )

    def handle_echo(self, event: evt.Event) -> int:
        log.info("C-ECHO from %s", event.assoc.requestor.ae_title)
        return SUCCESS

    def handle_store(self, event: evt.Event) -> int | Dataset:
        calling_ae = event.assoc.requestor.ae_title.strip()
        request = event.request
        # the data set as received (never decoded here): in mie's spool, or in pynetdicom's temporary file
        received = getattr(request, "received", None) or event.dataset_path
        if getattr(request, "receive_error", None) is not None:
            return _failure(OUT_OF_RESOURCES, "storage failed")
        institution = self.titles.by_title().get(calling_ae)
        if institution is None:  # removed since the association began
            if not isinstance(received, Path):
                received.discard()
            return _failure(NOT_REGISTERED, "calling AE title is not registered")
        try:
            ingest_spooled_received(
                self.runtime.database,
                self.runtime.store,
                received,
                sop_class_uid=str(request.AffectedSOPClassUID),  # type: ignore[union-attr]
                sop_instance_uid=str(request.AffectedSOPInstanceUID),  # type: ignore[union-attr]
                institution=institution,
                calling_ae=calling_ae,
            )
        except IngestRefused as refusal:
            log.warning("C-STORE from %s (%s) refused: %s", calling_ae, institution, refusal.reason)
            return _failure(STATUS_OF_REFUSAL[refusal.kind], refusal.kind)
        except OSError as error:
            log.error("C-STORE from %s: storage failed: %s", calling_ae, error)
            return _failure(OUT_OF_RESOURCES, "storage failed")
        except Exception:
            log.exception("C-STORE from %s failed", calling_ae)
            return _failure(PROCESSING_FAILURE, "processing failure")
        return SUCCESS


def _failure(status: int, comment: str) -> Dataset:
    answer = Dataset()
    answer.Status = status
    answer.ErrorComment = comment[:64]
    return answer


def run_worker(settings: Settings, listening: socket.socket, ready: Any, log_level: str) -> None:
    """An extra SCP process on the main process's listening socket (`mie serve --dicom-workers N`)."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # No recovery here: the main process recovered before starting workers, and a worker must never
    # remove another process's files in flight.
    parent = os.getppid()
    scp = StorageSCP(Runtime.open(settings, recover=False), settings.host, settings.dicom_port, settings.ae_title, listening)
    scp.start()
    ready.set()  # a multiprocessing Event: `mie serve` announces the SCP once every worker accepts
    # A worker outlives its `mie serve` only by a moment: were it to go on, the next start's recovery could
    # remove a file it has just renamed into place and is about to commit.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
