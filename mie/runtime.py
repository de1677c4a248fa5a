"""What a running processor holds: its settings and its database. Entry points get it from here."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from mie.config import Settings
from mie.contract import Contract
from mie.contract import current as current_contract
from mie.service.audit import AuditLog
from mie.service.links import LinkSigner
from mie.service.storage import storage_area
from mie.store.database import Database
from mie.store.files import FileStore, StorageUnavailable
from mie.store.journal import Journal

log = logging.getLogger("mie")


@dataclass
class Runtime:
    settings: Settings
    contract: Contract  # the revision this processor serves, with its strictness (--strict)
    database: Database
    store: FileStore

    @functools.cached_property
    def links(self) -> LinkSigner:
        """The signer of the report and image pages' links; its secret (`FileStore.secret`) is shared by every process."""
        return LinkSigner(self.store.secret("page-links"), self.settings.link_ttl_seconds)

    @functools.cached_property
    def audit(self) -> AuditLog:
        """The audit of retrieval; its person digests are keyed by the data directory's secret."""
        return AuditLog(self.database, self.store.secret("audit-person"), Journal(self.store.root / "audit-journal"))

    @classmethod
    def open(cls, settings: Settings, recover: bool = True, upgrade: bool = False) -> Runtime:
        """The processor's runtime. A new database is created at the current schema revision; one behind it is
        upgraded only when `upgrade` is given, else `mie.store.schema.SchemaBehind` is raised (see that module)."""
        from mie.store.schema import prepare

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.effective_database_url)
        try:
            prepare(database, upgrade=upgrade, extra_locations=settings.migrations)
        except BaseException:
            database.dispose()
            raise
        contract = current_contract().strictly(settings.strict)
        store = FileStore(settings.data_dir, storage_area(settings.object_store), secrets=settings.secrets_dir)
        runtime = cls(settings=settings, contract=contract, database=database, store=store)
        if recover:
            runtime.recover()
        return runtime

    def recover(self) -> None:
        """Finish what a crash left half-done: temporary files are removed; an instance file no row knows is
        registered again if it is whole and of a registered study (`adopt_instance`), else removed; report
        files no row knows (never acknowledged: reports commit with a full fsync) are removed; pending instances
        whose registration has come are attached (mie.service.pending)."""
        from mie.service.ingest import DICOM_AREA, adopt_instance
        from mie.service.pending import attach as attach_pending
        from mie.service.reports import REPORT_AREA

        adopted = self.audit.adopt_orphans()  # first: it needs only the database, not the storage area
        if adopted:
            log.warning("recovery: %d audit event(s) left in the journal of a process that ended were committed", adopted)
        with self.database.unit_of_work() as repository:
            instances = repository.all_instance_paths()
            reports = repository.all_report_paths()
        try:
            removed = self.store.recover(
                instances, DICOM_AREA, adopt=lambda relative: adopt_instance(self.database, self.store, relative)
            ) + self.store.recover(reports, REPORT_AREA)
        except StorageUnavailable as error:
            # the processor starts anyway: what it cannot store it refuses, and the next start recovers
            log.error("recovery: the storage area could not be read, left for the next start: %s", error)
            return
        if removed:
            log.warning("recovery: removed %d unfinished or unacknowledged file(s)", len(removed))
        attached = attach_pending(self.database)  # pending instances a registration named before a crash
        if attached:
            log.warning("recovery: %d pending instance(s) attached to the exams registered for them", attached)


_current: Runtime | None = None


def set_runtime(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no processor is running in this process (mie.runtime.set_runtime was not called)")
    return _current
