"""`mie`: the command line. Thin: it parses options and calls the same services as HTTP.

Exit codes (stable, for CI): 0 success; 1 the check found problems (stale generated/, invalid payload,
invalid spec); 2 wrong usage.
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

from mie.config import (
    RECOVERED_BY,
    Settings,
    add_dicom_options,
    add_server_options,
    add_storage_options,
    settings_environment,
    settings_from,
)
from mie.contract.spec import REPO_ROOT

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mie.runtime import Runtime
    from mie.web.app import create_app
    from mie.web.protocol import BoundedHttpToolsProtocol

    _configure_logging(args.log_level.upper())
    settings = settings_from(args)
    runtime = Runtime.open(settings)
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
    if scp is not None:
        scp.stop()
        for worker in workers:
            worker.terminate()
    return EXIT_OK


_WORKER_START_SECONDS = 120.0


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
    from mie.service.institutions import add_institution

    runtime = Runtime.open(settings_from(args))
    institution = add_institution(runtime.database, args.code, args.key, name=args.name, ae_title=args.ae_title)
    print(f"mie: institution {institution.code} registered" + (f" ({institution.name})" if institution.name else ""))
    return EXIT_OK


def cmd_institution_list(args: argparse.Namespace) -> int:
    from mie.runtime import Runtime
    from mie.service.institutions import list_institutions

    runtime = Runtime.open(settings_from(args))
    for institution in list_institutions(runtime.database):
        print("\t".join([institution.code, institution.name or "", institution.ae_title or ""]))
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


def cmd_validate(args: argparse.Namespace) -> int:
    from mie.toolkit.validate import validate_payload

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    report = validate_payload(text, args.transaction)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(report["summary"])
        for problem in report["problems"]:
            print(f"  {problem['where']}: {problem['message']}")
    return EXIT_OK if report["valid"] else EXIT_PROBLEMS


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mie", description="贵州医保影像云 V1.4: contract, reference processor, toolkit")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the reference front-end processor (HTTP)")
    add_server_options(serve)
    add_storage_options(serve)
    add_dicom_options(serve)
    serve.add_argument(
        "--workers", type=int, default=int(os.environ.get("MIE_WORKERS", "1")), help="worker processes (MIE_WORKERS)"
    )
    serve.add_argument("--log-level", default=os.environ.get("MIE_LOG_LEVEL", "info"), help="log level (MIE_LOG_LEVEL)")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True, help="log each request's path")
    serve.set_defaults(run=cmd_serve)

    institution = commands.add_parser("institution", help="institutions allowed to send, and their keys")
    institution_commands = institution.add_subparsers(dest="institution_command", required=True)
    add = institution_commands.add_parser("add", help="register an institution (or replace its key)")
    add.add_argument("code", help="institution code, as sent in infCode / fixmedinsCode")
    add.add_argument("--key", required=True, help="its key (stored only as a scrypt hash)")
    add.add_argument("--name", help="its name")
    add.add_argument("--ae-title", help="the DICOM AE title it sends images from")
    add_storage_options(add)
    add.set_defaults(run=cmd_institution_add)
    listing = institution_commands.add_parser("list", help="list registered institutions")
    add_storage_options(listing)
    listing.set_defaults(run=cmd_institution_list)

    generate = commands.add_parser("generate", help="bundle dictionaries into the spec and generate models")
    generate.add_argument("--check", action="store_true", help="change nothing; exit 1 when anything is stale")
    generate.add_argument("--root", default=str(REPO_ROOT), help="the checkout holding spec/ and generated/")
    generate.set_defaults(run=cmd_generate)

    lint = commands.add_parser("lint", help="check spec/openapi.yaml with openapi-spec-validator")
    lint.add_argument("spec", nargs="?", help="another spec file to check")
    lint.set_defaults(run=cmd_lint)

    validate = commands.add_parser("validate", help="validate a request payload offline, in the spec's terms")
    validate.add_argument("file", help="JSON file with the request body ('-' for standard input)")
    validate.add_argument("--transaction", "-t", help="infno (default: the payload's own infno)")
    validate.add_argument("--json", action="store_true", help="machine-readable report")
    validate.set_defaults(run=cmd_validate)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
