"""`mie`: the command line. Thin: it parses options and calls the same services as HTTP.

Exit codes (stable, for CI): 0 success; 1 the check found problems (stale generated/, invalid spec, a
finding of severity error in `mie validate`: warnings and information alone exit 0 unless --strict; breaking
changes in `mie spec diff`; a database whose schema revision is behind or ahead of this mie, see `mie db`);
2 wrong usage, or an input that cannot be read (a missing file, a glob matching nothing, a file that is not a
spec, a database that cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mie.config import (
    RECOVERED_BY,
    Settings,
    add_dicom_options,
    add_pending_options,
    add_server_options,
    add_storage_options,
    http_workers,
    settings_environment,
    settings_from,
)
from mie.contract.spec import REPO_ROOT

if TYPE_CHECKING:
    from mie.contract import Contract

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def emit(text: str) -> None:
    """Print a report on standard output; a reader that stops early (`mie validate DIR | head -1`) ends the
    printing, not the command: its exit code still says what was found."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_gone()


def _stdout_gone() -> None:
    # The closed pipe would fail again at the interpreter's final flush (Python's documented remedy, "Note on
    # SIGPIPE"): standard output becomes /dev/null for the rest of the process.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mie.runtime import Runtime
    from mie.service.pending import Sweeper
    from mie.web.allocator import keep_freed_memory
    from mie.web.app import create_app
    from mie.web.protocol import BoundedHttpToolsProtocol

    _configure_logging(args.log_level.upper())
    keep_freed_memory()  # this process serves HTTP itself with one worker (each worker does the same: mie.web.asgi)
    settings = settings_from(args)
    runtime = Runtime.open(settings, upgrade=args.upgrade)
    sweeper = Sweeper(runtime.database, runtime.store, settings.pending_days).start()
    print(f"mie: data directory {settings.data_dir.resolve()}", flush=True)
    print(f"mie: database {runtime.database.describe()}", flush=True)
    base = f"http://{settings.host}:{settings.http_port}"
    print(f"mie: HTTP on {base}/mie/api/mie/ (spec {base}/openapi.json and {base}/openapi.yaml, docs {base}/docs/)", flush=True)
    scp = None
    workers: list[multiprocessing.process.BaseProcess] = []
    if settings.dicom_port:
        from mie.dicom.scp import StorageSCP

        scp = StorageSCP(runtime, settings.host, settings.dicom_port, settings.ae_title)
        scp.start()
        if settings.dicom_workers > 1:
            workers = start_scp_workers(settings, scp.share(), settings.dicom_workers - 1, args.log_level.upper())
        print(
            f"mie: DICOM C-STORE SCP on {settings.host}:{scp.port}, AE title {settings.ae_title}"
            + (f", {settings.dicom_workers} processes" if workers else ""),
            flush=True,
        )
    if args.workers > 1:
        # Each worker process builds its own app from the same settings, passed down as MIE_ variables; it does
        # not recover again: this process did, above, before anything accepted (mie.web.asgi).
        os.environ.update(settings_environment(settings))
        os.environ[RECOVERED_BY] = str(os.getpid())
        uvicorn.run(
            "mie.web.asgi:app",
            host=settings.host,
            port=settings.http_port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=args.access_log,
            http=BoundedHttpToolsProtocol,
            # uvicorn kills (SIGKILL) a worker that misses its 5 s health check: on a loaded machine a busy worker
            # can, and its requests in flight are cut. A hung worker is still replaced, after 30 s.
            timeout_worker_healthcheck=_WORKER_HEALTHCHECK_SECONDS,
        )
    else:
        uvicorn.run(
            create_app(runtime),
            host=settings.host,
            port=settings.http_port,
            log_level=args.log_level,
            access_log=args.access_log,
            http=BoundedHttpToolsProtocol,
        )
    sweeper.stop()
    if scp is not None:
        scp.stop()
        for worker in workers:
            worker.terminate()
    return EXIT_OK


_WORKER_START_SECONDS = 120.0
_WORKER_HEALTHCHECK_SECONDS = 30


def start_scp_workers(
    settings: Settings, listening: socket.socket, count: int, log_level: str
) -> list[multiprocessing.process.BaseProcess]:
    from mie.dicom.scp import run_worker

    context = multiprocessing.get_context("spawn")
    ready = [context.Event() for _ in range(max(0, count))]
    # The listening socket goes to each worker as a duplicated descriptor (multiprocessing passes sockets).
    workers = [context.Process(target=run_worker, args=(settings, listening, event, log_level), daemon=True) for event in ready]
    for worker in workers:
        worker.start()
    # Announced only once every worker is accepting: until then the first process would take every
    # association that arrives (a fresh interpreter takes a few seconds to import pynetdicom and the rest).
    deadline = time.monotonic() + _WORKER_START_SECONDS
    for worker, event in zip(workers, ready, strict=True):
        while not event.wait(0.1):
            if not worker.is_alive() or time.monotonic() > deadline:
                for other in workers:
                    other.terminate()
                raise SystemExit(f"mie: a DICOM SCP worker process did not start (exit code {worker.exitcode})")
    return workers


def cmd_institution_add(args: argparse.Namespace) -> int:
    from mie.runtime import Runtime
    from mie.service.institutions import add_institution, allow_sources, network_of

    try:
        [network_of(text) for text in args.allow]  # checked before anything is registered
    except ValueError as error:
        print(f"mie: --allow: {error}", file=sys.stderr)
        return EXIT_USAGE
    runtime = Runtime.open(settings_from(args))
    institution = add_institution(runtime.database, args.code, args.key, name=args.name, ae_title=args.ae_title)
    print(f"mie: institution {institution.code} registered" + (f" ({institution.name})" if institution.name else ""))
    if args.allow:
        networks = allow_sources(runtime.database, args.code, args.allow)
        print(f"mie: {args.code} may query without a key from {', '.join(networks)}")
    return EXIT_OK


def cmd_institution_allow(args: argparse.Namespace) -> int:
    from mie.runtime import Runtime
    from mie.service.institutions import UnknownInstitution, allow_sources

    runtime = Runtime.open(settings_from(args), recover=False)
    try:
        networks = allow_sources(runtime.database, args.code, args.networks, remove=args.remove)
    except UnknownInstitution as error:
        print(f"mie: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except ValueError as error:
        print(f"mie: {error}", file=sys.stderr)
        return EXIT_USAGE
    if networks:
        print(f"mie: {args.code} may query without a key from {', '.join(networks)}")
    else:
        print(f"mie: {args.code} may query only with its key")
    return EXIT_OK


def cmd_institution_list(args: argparse.Namespace) -> int:
    from mie.runtime import Runtime
    from mie.service.institutions import institution_sources, list_institutions

    runtime = Runtime.open(settings_from(args))
    for institution in list_institutions(runtime.database):
        sources = ",".join(institution_sources(runtime.database, institution.code))
        print("\t".join([institution.code, institution.name or "", institution.ae_title or "", sources]))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from datetime import date

    from mie.runtime import Runtime

    person: tuple[str, str] | None = None
    if args.person:
        cert_type, separator, certno = args.person.partition(":")
        if not separator or not cert_type or not certno:
            print("mie: --person is TYPE:CERTNO, e.g. 111:110101197804050041", file=sys.stderr)
            return EXIT_USAGE
        person = (cert_type, certno)
    try:
        since = date.fromisoformat(args.since) if args.since else None
        until = date.fromisoformat(args.until) if args.until else None
    except ValueError:
        print("mie: --since and --until are dates, yyyy-MM-dd", file=sys.stderr)
        return EXIT_USAGE
    runtime = Runtime.open(settings_from(args), recover=False)
    events = runtime.audit.events(person=person, institution_code=args.institution, since=since, until=until)
    if args.json:
        print(json.dumps(events, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    columns = (
        *("at", "action", "outcome", "institution_code", "source_address"),
        *("person_masked", "hi_img_indx_masked", "items", "bytes_sent", "detail"),
    )
    for event in events:
        print("\t".join("" if event[name] is None else str(event[name]) for name in columns))
    print(f"mie: {len(events)} access event(s)", file=sys.stderr)
    return EXIT_OK


def cmd_pending(args: argparse.Namespace) -> int:
    from mie.runtime import Runtime
    from mie.service.pending import Pending, expire, list_pending

    settings = settings_from(args)
    runtime = Runtime.open(settings, recover=False)

    def shown(item: Pending) -> dict[str, object]:
        return {
            "institution": item.institution_code,
            "calling_ae": item.calling_ae,
            "study_uid": item.study_uid,
            "accession_number": item.accession_number,
            "sop_instance_uid": item.sop_instance_uid,
            "size": item.size,
            "received_at": item.received_at.isoformat(),
            "expires_at": item.expires_at.isoformat(),
        }

    removed = [shown(item) for item in expire(runtime.database, runtime.store, settings.pending_days)] if args.expire else []
    listed = [shown(item) for item in list_pending(runtime.database, settings.pending_days, args.institution)]
    if args.json:
        print(json.dumps({"pending": listed, "removed": removed} if args.expire else listed, ensure_ascii=False, indent=2))
    else:
        for row in listed:
            print("\t".join("" if value is None else str(value) for value in row.values()))
        for row in removed:
            print(f"mie: removed {row['sop_instance_uid']} (received {row['received_at']})", file=sys.stderr)
    print(f"mie: {len(listed)} pending instance(s)" + (f", {len(removed)} removed" if args.expire else ""), file=sys.stderr)
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from mie.service.maintenance import upgrade_database

    upgraded = upgrade_database(settings_from(args))
    print(f"mie: {upgraded.database} was {upgraded.before}; now {upgraded.words}")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    from mie.service.maintenance import database_state

    found = database_state(settings_from(args))
    print(f"mie: {found.database} {found.words}")
    return EXIT_OK if found.status == "current" else EXIT_PROBLEMS


_OUTCOMES = {
    "copied": "已复制并校验",
    "present": "目标中已有 (MD5 相符)",
    "removed": "已从源存储删除",
    "missing": "缺失",
    "failed": "失败",
}


def cmd_storage_migrate(args: argparse.Namespace) -> int:
    from mie.service.storage import SameArea, Step, describe, migrate

    settings = settings_from(args)

    def progress(step: Step) -> None:
        detail = f": {step.detail}" if step.detail else ""
        print(f"[{step.done}/{step.total}] {_OUTCOMES[step.outcome]} {step.name}{detail}", flush=True)

    print(f"mie: 迁移存储 {describe(settings.object_store)} -> {args.to} (请先停止前置机)", flush=True)
    try:
        result = migrate(settings, args.to, progress)
    except SameArea as error:
        print(f"mie: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"mie: 共 {result.total} 个文件: 复制并校验 {result.copied} 个, 目标中已有 {result.present} 个, "
        f"从源存储删除 {result.removed} 个, 缺失 {len(result.missing)} 个, 失败 {len(result.failed)} 个"
    )
    if not result.complete:
        print("mie: 迁移未完成: 排除上述问题后再次运行同一命令即可继续", file=sys.stderr)
        return EXIT_PROBLEMS
    start = "--object-store " + args.to if args.to != "local" else "不带 --object-store"
    print(f"mie: 迁移完成: 请以 {start} 启动前置机")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from mie.contract.codegen import generate

    stale = generate(check=args.check, root=Path(args.root))
    if args.check:
        if stale:
            print("mie: generated/ or spec/openapi.yaml is stale; run `mie generate`:", file=sys.stderr)
            for diff in stale:
                print(diff, file=sys.stderr)
            return EXIT_PROBLEMS
        print("mie: spec/openapi.yaml, spec/dictionaries/ and generated/ agree")
        return EXIT_OK
    print(f"mie: {len(stale)} file(s) regenerated" if stale else "mie: nothing to regenerate")
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    from mie.contract.spec import spec_dir

    path = Path(args.spec) if args.spec else spec_dir() / "openapi.yaml"
    document, base_uri = read_from_filename(str(path))
    try:
        validate(document, base_uri=base_uri)
    except Exception as error:  # noqa: BLE001 - any finding of the validator is a problem to report
        print(f"mie: {path} is not a valid OpenAPI 3.0 document: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"mie: {path} is a valid OpenAPI {document.get('openapi')} document")
    return EXIT_OK


def _contract_of(given: str | None, strict: bool = False) -> Contract | None:
    """The revision of the contract `--spec` names (a directory, or the openapi.yaml in it), or the bundled one;
    None, said on stderr, when there is none there."""
    from mie.contract import Contract, current

    if not given:
        return current().strictly(strict)
    spec = Path(given)
    directory = spec.parent if spec.is_file() else spec
    if not (directory / "openapi.yaml").is_file() or not (directory / "dictionaries").is_dir():
        print(f"mie: {given}: 应为规范目录, 含 openapi.yaml 与 dictionaries/", file=sys.stderr)
        return None
    contract = Contract.load(directory, strict=strict)
    note = contract.stale_note()
    if note:
        print(f"mie: 注意: {note}", file=sys.stderr)
    return contract


def cmd_validate(args: argparse.Namespace) -> int:
    from mie.toolkit import validate as toolkit

    contract = _contract_of(args.spec, args.strict)
    if contract is None:
        return EXIT_USAGE
    if args.transaction is not None and toolkit.find_transaction(contract, args.transaction) is None:
        known = ", ".join(f"{t.section} {t.infno}" for t in contract.transactions)
        print(f"mie: --transaction {args.transaction}: 规范中没有这个交易; 可用交易编号或章节号: {known}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.inputs == ["-"]:
            reports = [toolkit.validate_text(sys.stdin.read(), args.transaction, "-", contract=contract)]
        else:
            paths = toolkit.expand_inputs(args.inputs)
            reports = []
            progress = _Progress(len(paths)) if sys.stderr.isatty() and len(paths) >= _PROGRESS_FROM else None
            for done, path in enumerate(paths, 1):
                reports.append(toolkit.validate_file(path, args.transaction, contract))
                if progress:
                    progress.show(done)
    except toolkit.UnreadableInput as error:
        print(f"mie: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.junit:
        Path(args.junit).write_bytes(toolkit.render_junit(reports))
    if args.json:
        emit(json.dumps(toolkit.render_json(reports), ensure_ascii=False, indent=2))
    else:
        emit(toolkit.render_text(reports, quiet_valid=len(reports) > 1 and args.quiet, quiet=args.quiet))
    return EXIT_OK if all(report.valid for report in reports) else EXIT_PROBLEMS


_PROGRESS_FROM = 200  # files; fewer are done before a progress line would help


class _Progress:
    """A progress line on a terminal's stderr, redrawn at most every 1% of the batch."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.step = max(1, total // 100)

    def show(self, done: int) -> None:
        if done % self.step == 0 or done == self.total:
            end = "\n" if done == self.total else ""
            print(f"\rmie validate: {done}/{self.total} 个文件", end=end, file=sys.stderr, flush=True)


def cmd_spec_diff(args: argparse.Namespace) -> int:
    from mie.toolkit import specdiff

    try:
        result = specdiff.diff_files(Path(args.old), Path(args.new))
    except specdiff.SpecUnreadable as error:
        print(f"mie: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        emit(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        emit(specdiff.render_text(result))
    sides = {"any": (specdiff.SENDERS, specdiff.RECEIVERS), "senders": (specdiff.SENDERS,), "receivers": (specdiff.RECEIVERS,)}
    failing = any(result.breaks(side) for side in sides.get(args.fail_on, ()))
    return EXIT_PROBLEMS if failing else EXIT_OK


def cmd_conformance(args: argparse.Namespace) -> int:
    from mie.toolkit import conformance

    if len(args.institution) != len(args.key) or not args.institution:
        print("mie: 请给出 --institution CODE --key KEY, 每个 --institution 之后一个 --key", file=sys.stderr)
        return EXIT_USAGE
    if args.max_examples < 1 or (args.duration is not None and args.duration <= 0):
        print("mie: --max-examples 与 --duration 应为正数", file=sys.stderr)
        return EXIT_USAGE
    options = conformance.Options(
        url=args.url,
        institutions=[conformance.Institution(code, key) for code, key in zip(args.institution, args.key, strict=True)],
        spec=Path(args.spec) if args.spec else conformance.DEFAULT_SPEC,
        transactions=[name.strip() for name in args.transactions.split(",") if name.strip()] if args.transactions else None,
        max_examples=args.max_examples,
        duration=args.duration,
        seed=args.seed,
        dicom=args.dicom,
        called_ae=args.called_ae,
        calling_ae=args.calling_ae,
    )
    progress = (lambda line: print(line, file=sys.stderr, flush=True)) if sys.stderr.isatty() or args.progress else None
    try:
        report = conformance.run(options, progress)
    except conformance.NotStarted as error:
        print(f"mie conformance: 未开始: {error}", file=sys.stderr)
        return conformance.EXIT_NOT_STARTED
    emit(report.summary(verbose=args.verbose))  # `mie conformance ... | head`: the reports below and the exit code still count
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    if args.junit:
        report.write_junit(Path(args.junit))
    return report.exit_code()


def cmd_proxy(args: argparse.Namespace) -> int:
    contract = _contract_of(args.spec)
    if contract is None:
        return EXIT_USAGE
    if not args.upstream.startswith(("http://", "https://")):
        print(f"mie: --upstream {args.upstream}: 应为 http:// 或 https:// 开头的地址", file=sys.stderr)
        return EXIT_USAGE
    if args.timeout <= 0:
        print("mie: --timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    import uvicorn

    from mie.toolkit import proxy

    _configure_logging(args.log_level.upper())
    if args.log_level.lower() != "debug":
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per forwarded request: --access-log says that
    log_json = Path(args.log_json) if args.log_json else None
    options = proxy.Options(args.upstream, strict=args.strict, timeout=args.timeout, log_json=log_json, contract=contract)
    app = proxy.create_app(options)
    mode = "refusing requests with errors (--strict)" if args.strict else "observing only"
    print(f"mie: proxy on http://{args.host}:{args.port} -> {args.upstream}, {mode}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log)
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mie", description="贵州医保影像云 V1.4: contract, reference processor, toolkit")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the reference front-end processor (HTTP, and DICOM C-STORE)",
        description="Run the reference front-end processor: the interface's eight transactions over HTTP "
        "(/mie/api/mie/...), the spec at /openapi.json and /openapi.yaml, the pages, and a DICOM C-STORE SCP "
        "(--dicom-port 0 for none). Every option is also read from its MIE_ environment variable. It runs until "
        "stopped (Ctrl-C or SIGTERM). Exit codes: 0 stopped; 1 the database's schema revision is behind this mie "
        "(run `mie db upgrade`, or --upgrade) or ahead of it; 2 wrong usage, or the database cannot be reached.",
    )
    add_server_options(serve)
    add_storage_options(serve)
    add_dicom_options(serve)
    add_pending_options(serve)
    serve.add_argument(
        "--workers",
        type=http_workers,
        default=http_workers(os.environ.get("MIE_WORKERS", "auto") or "auto"),
        help="HTTP worker processes, or auto: one per core (MIE_WORKERS; default auto)",
    )
    serve.add_argument("--log-level", default=os.environ.get("MIE_LOG_LEVEL", "info"), help="log level (MIE_LOG_LEVEL)")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True, help="log each request's path")
    serve.add_argument(
        "--upgrade", action="store_true", help="migrate a database that is behind this mie instead of refusing to start"
    )
    serve.set_defaults(run=cmd_serve)

    db = commands.add_parser(
        "db",
        help="the database's schema revision (Alembic migrations)",
        description="A new database is created at the current revision by any command; one behind it is upgraded only "
        "by `mie db upgrade` (or `mie serve --upgrade`): every other command refuses it and exits 1.",
    )
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to this mie's revision (back it up first)")
    add_storage_options(upgrade)
    upgrade.set_defaults(run=cmd_db_upgrade)
    db_current = db_commands.add_parser(
        "current", help="the database's revision and this mie's (exit 0 when they agree, 1 when not)"
    )
    add_storage_options(db_current)
    db_current.set_defaults(run=cmd_db_current)

    storage = commands.add_parser("storage", help="the storage area of images and reports")
    storage_commands = storage.add_subparsers(dest="storage_command", required=True)
    migrate = storage_commands.add_parser(
        "migrate",
        help="move every stored file to another area (the processor stopped)",
        description="Copy every stored image and report from the area in use (--object-store, or the data directory) "
        "to --to, each verified against its MD5, then remove the source's copies; run it again after an interruption "
        "to continue. Stop the processor first, and start it with the new area after. Exit codes: 0 every file moved; "
        "1 a file missing or failing (nothing removed from the source unless every copy was verified; run it again); "
        "2 wrong usage (--to is the area in use, or not local or s3://BUCKET[/PREFIX]), or the database unreachable.",
    )
    add_storage_options(migrate)
    migrate.add_argument("--to", required=True, metavar="s3://BUCKET[/PREFIX]|local", help="the area to move the files to")
    migrate.set_defaults(run=cmd_storage_migrate)

    institution = commands.add_parser("institution", help="institutions allowed to send, and their keys")
    institution_commands = institution.add_subparsers(dest="institution_command", required=True)
    add = institution_commands.add_parser("add", help="register an institution (or replace its key)")
    add.add_argument("code", help="institution code, as sent in infCode / fixmedinsCode")
    add.add_argument("--key", required=True, help="its key (stored only as a scrypt hash)")
    add.add_argument("--name", help="its name")
    add.add_argument("--ae-title", help="the DICOM AE title it sends images from")
    add.add_argument(
        "--allow", nargs="+", default=[], metavar="CIDR", help="addresses or networks it may query (§2.6-§2.8) from without a key"
    )
    add_storage_options(add)
    add.set_defaults(run=cmd_institution_add)
    allow = institution_commands.add_parser(
        "allow", help="addresses or networks an institution may query (§2.6-§2.8) from without its key"
    )
    allow.add_argument("code", help="institution code (fixmedinsCode)")
    allow.add_argument("networks", nargs="+", metavar="CIDR", help="e.g. 10.1.2.3 or 10.1.2.0/24 (IPv6 too)")
    allow.add_argument("--remove", action="store_true", help="take these off the list instead")
    add_storage_options(allow)
    allow.set_defaults(run=cmd_institution_allow)
    listing = institution_commands.add_parser("list", help="list registered institutions (code, name, AE title, query networks)")
    add_storage_options(listing)
    listing.set_defaults(run=cmd_institution_list)

    audit = commands.add_parser("audit", help="who looked at whose data (§2.6-§2.8 and the pages), oldest first")
    audit.add_argument("--person", help="TYPE:CERTNO, e.g. 111:110101197804050041 (matched by keyed digest; never stored)")
    audit.add_argument("--institution", help="the institution that asked (fixmedinsCode)")
    audit.add_argument("--since", help="first day, yyyy-MM-dd (UTC), included")
    audit.add_argument("--until", help="last day, yyyy-MM-dd (UTC), included")
    audit.add_argument("--json", action="store_true", help="machine-readable")
    add_storage_options(audit)
    audit.set_defaults(run=cmd_audit)

    pending = commands.add_parser(
        "pending",
        help="instances sent by C-STORE before their study was registered, not yet attached (oldest first)",
        description="List the instances a registered AE sent by C-STORE whose study and accession no registration "
        "(§2.1 saveExamRpotImgInfo or §2.3 saveImgInfo) of its institution names yet: institution, calling AE title, "
        "study UID, accession number, SOP Instance UID, size, received at, expires at (UTC). They are served to "
        "nobody until attached; `mie serve` removes them --pending-days after they arrived (spec/ERRATA.md, "
        "E-UNASSIGNED-INSTANCE). Exit code 0.",
    )
    pending.add_argument("--institution", help="only this institution's (fixmedinsCode)")
    pending.add_argument(
        "--expire", action="store_true", help="first remove those older than --pending-days, as `mie serve` does hourly"
    )
    pending.add_argument("--json", action="store_true", help="machine-readable")
    add_storage_options(pending)
    add_pending_options(pending)
    pending.set_defaults(run=cmd_pending)

    generate = commands.add_parser(
        "generate",
        help="bundle dictionaries into the spec and generate models",
        description="Write spec/dictionaries/ into spec/openapi.yaml and generate generated/ (pydantic models, "
        "by datamodel-code-generator) from it, in the checkout --root. Exit codes: 0 done, or with --check "
        "everything agrees; 1 with --check, something is stale (the differences on standard error); 2 wrong usage.",
    )
    generate.add_argument("--check", action="store_true", help="change nothing; exit 1 when anything is stale")
    generate.add_argument("--root", default=str(REPO_ROOT), help="the checkout holding spec/ and generated/")
    generate.set_defaults(run=cmd_generate)

    lint = commands.add_parser("lint", help="check spec/openapi.yaml with openapi-spec-validator")
    lint.add_argument("spec", nargs="?", help="another spec file to check")
    lint.set_defaults(run=cmd_lint)

    validate = commands.add_parser(
        "validate",
        help="validate requests offline, in the spec's terms",
        description="Validate requests offline as the processor would. Exit codes: 0 no finding of severity error "
        "(warnings and information allowed, unless --strict); 1 at least one error; 2 wrong usage or an unreadable input.",
    )
    validate.add_argument(
        "inputs",
        nargs="+",
        help="request bodies (JSON), multipart captures ({headers, form, file}), directories (every *.json) or globs; "
        "'-' for standard input",
    )
    validate.add_argument("--transaction", "-t", help="infno, an alias or a section such as 2.3 (default: its own infno)")
    validate.add_argument("--json", action="store_true", help="machine-readable report on standard output")
    validate.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report to FILE")
    validate.add_argument("--quiet", "-q", action="store_true", help="list only inputs with errors or warnings (and the totals)")
    validate.add_argument("--strict", action="store_true", help="warnings are errors, as under `mie serve --strict`")
    validate.add_argument(
        "--spec",
        help="another revision of the contract: a spec directory (openapi.yaml and dictionaries/), as MIE_SPEC_DIR",
    )
    validate.set_defaults(run=cmd_validate)

    spec = commands.add_parser("spec", help="the contract itself: compare revisions")
    spec_commands = spec.add_subparsers(dest="spec_command", required=True)
    diff = spec_commands.add_parser(
        "diff",
        help="what changed between two revisions of spec/openapi.yaml, classified",
        description="Fields, lengths, types, formats, dictionary codes and transactions that changed, by transaction, "
        "field code, Chinese name and 序号; each breaking for senders (a request valid under OLD is refused under NEW), "
        "for receivers (a request valid under NEW is refused by a receiver on OLD), or compatible. "
        "Exit codes: 0 nothing breaking (per --fail-on); 1 breaking changes; 2 wrong usage or an unreadable spec.",
    )
    diff.add_argument("old", help="the earlier spec (an openapi.yaml)")
    diff.add_argument("new", help="the later spec")
    diff.add_argument("--json", action="store_true", help="machine-readable report")
    diff.add_argument(
        "--fail-on",
        choices=["any", "senders", "receivers", "none"],
        default="any",
        help="which breaking changes exit 1 (default: any)",
    )
    diff.set_defaults(run=cmd_spec_diff)

    conformance = commands.add_parser(
        "conformance",
        help="check a server that claims to implement the spec (exit 0 clean, 1 findings, 2 could not start)",
        description="Check a server that claims to implement the spec: generated messages, every field broken one way, "
        "replays, and the chain §2.1 save → §2.6 → §2.3 → §2.2 → §2.7 → §2.8 → §2.5. First one harmless query per "
        "institution (preflight). The report: a summary, then one line per distinct problem with a reproducer, at most "
        "40 lines (--verbose: every case). Exit codes: 0 conforms; 1 problems found; 2 the run could not start (wrong "
        "usage, an unreadable spec, a server that does not answer or is not this interface, a key it refuses).",
    )
    conformance.add_argument("url", help="the server's base URL, e.g. http://127.0.0.1:8080")
    conformance.add_argument("--spec", help="the contract to hold it to (default: the bundled spec/openapi.yaml)")
    conformance.add_argument(
        "--institution", action="append", default=[], metavar="CODE", help="a registered institution (repeatable)"
    )
    conformance.add_argument("--key", action="append", default=[], metavar="KEY", help="its key, after each --institution")
    conformance.add_argument("--transactions", help="comma-separated infno (or URL names) to check; default all")
    conformance.add_argument("--max-examples", type=int, default=20, help="generated cases per transaction and mode (default 20)")
    conformance.add_argument("--duration", type=float, help="seconds of generated cases in all, instead of --max-examples")
    conformance.add_argument("--seed", type=int, default=0, help="generation seed: the same seed, the same cases (default 0)")
    conformance.add_argument("--dicom", metavar="HOST:PORT", help="the server's C-STORE SCP: C-ECHO and C-STORE checked too")
    conformance.add_argument("--called-ae", default="ANY-SCP", help="the SCP's AE title (with --dicom; default ANY-SCP)")
    conformance.add_argument(
        "--calling-ae", default="MIECONFORMANCE", help="our AE title, the one the server knows the first --institution by"
    )
    conformance.add_argument(
        "--verbose", "-v", action="store_true", help="list every case of every problem, each with its curl line"
    )
    conformance.add_argument("--junit", metavar="FILE", help="write a JUnit XML report (a failing testcase per problem)")
    conformance.add_argument("--json", metavar="FILE", help="write a JSON report")
    conformance.add_argument(
        "--progress", action="store_true", help="progress lines on standard error even when it is no terminal"
    )
    conformance.set_defaults(run=cmd_conformance)

    proxy = commands.add_parser(
        "proxy",
        help="a validating proxy in front of a processor: checks real traffic both ways, in the spec's terms",
        description="Forward every request to --upstream unchanged and return its answer unchanged, logging each "
        "violation of the spec by a request or an answer (transaction, field code, Chinese name, 序号, rule, severity).",
    )
    proxy.add_argument("--upstream", required=True, metavar="URL", help="the processor, e.g. http://10.1.2.3:8080")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    proxy.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    proxy.add_argument(
        "--spec", help="another revision of the contract: a spec directory (openapi.yaml and dictionaries/), or its openapi.yaml"
    )
    proxy.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the upstream's answer (default 30)")
    proxy.add_argument(
        "--strict", action="store_true", help="refuse a request with errors (the spec's error envelope) instead of forwarding it"
    )
    proxy.add_argument("--log-json", metavar="FILE", help="also append each violation to FILE as a JSON line")
    proxy.add_argument("--log-level", default="info", help="log level (default info)")
    proxy.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=False, help="log each request's path")
    proxy.set_defaults(run=cmd_proxy)
    return root


def main(argv: list[str] | None = None) -> int:
    from mie.service.failures import storage_failure

    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # a listing cut short by its reader (`mie audit | head`): nothing more to say
        _stdout_gone()
        return EXIT_OK
    except Exception as error:
        failure = storage_failure(error)
        if failure is None:
            raise
        kind, message = failure
        if kind == "schema":
            print(f"mie: {message}", file=sys.stderr)
            return EXIT_PROBLEMS
        if kind == "setting":
            print(f"mie: {message}", file=sys.stderr)
            return EXIT_USAGE
        print(f"mie: the database cannot be reached: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
