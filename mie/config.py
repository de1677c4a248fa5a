"""Settings of a processor: command-line options, each also read from a MIE_ environment variable."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_PENDING_DAYS = 7.0  # a week: a report is signed within days of its images (ERRATA E-UNASSIGNED-INSTANCE)
DEFAULT_LINK_TTL_SECONDS = 8 * 3600  # a working day: a doctor opens the links of a query made that morning
# where bin/serve (and bin/test) install OHIF Viewer's prebuilt files (bin/install-ohif): beside the environment
DEFAULT_VIEWER_DIR = Path(sys.prefix) / "share" / "mie" / "ohif"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    http_port: int = 8080
    data_dir: Path = Path("mie-data")
    database_url: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_file_bytes: int = 1024 * 1024 * 1024
    dicom_port: int = 11112
    dicom_workers: int = 1
    ae_title: str = "MIE"
    public_url: str | None = None
    link_ttl_seconds: int = DEFAULT_LINK_TTL_SECONDS
    require_query_key: bool = False
    strict: bool = False  # warnings (spec/ERRATA.md, Severities) refused as errors
    migrations: tuple[Path, ...] = ()  # revisions beyond the packaged ones (mie.store.schema)
    viewer_dir: Path | None = None  # OHIF Viewer's files (mie.service.viewer); None: the image link opens the light page
    object_store: str | None = None  # s3://BUCKET[/PREFIX]: images and reports there, not in data_dir
    secrets_dir: Path | None = None  # the link and audit secrets, shared by every process; default data_dir/secrets
    pending_days: float = DEFAULT_PENDING_DAYS  # how long a C-STORE instance waits for its study's registration

    @property
    def effective_database_url(self) -> str:
        # imported here: importing the store reads the contract (column lengths), and `mie validate --spec` must be
        # able to choose which contract before anything reads it
        from mie.store.database import default_database_url

        return self.database_url or default_database_url(self.data_dir)

    @property
    def effective_public_url(self) -> str:
        """The address other institutions reach this processor at, for the links §2.6 answers."""
        return (self.public_url or f"http://{self.host}:{self.http_port}").rstrip("/")


def _env(name: str, default: str | None) -> str | None:
    return os.environ.get(f"MIE_{name}", default)


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=_env("DATA_DIR", "mie-data"),
        help="where the processor keeps its files and, by default, its SQLite database (MIE_DATA_DIR; default ./mie-data)",
    )
    parser.add_argument(
        "--database-url",
        default=_env("DATABASE_URL", None),
        help="SQLAlchemy URL, e.g. postgresql://user@host/db (MIE_DATABASE_URL; default SQLite in --data-dir)",
    )
    parser.add_argument(
        "--object-store",
        default=_env("OBJECT_STORE", None),
        metavar="s3://BUCKET[/PREFIX]",
        help="keep images and reports in this S3-compatible bucket instead of --data-dir (which keeps the database and "
        "the spool); endpoint, credentials and region from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "AWS_REGION (MIE_OBJECT_STORE)",
    )
    parser.add_argument(
        "--secrets-dir",
        type=Path,
        default=_env("SECRETS_DIR", None),
        metavar="DIR",
        help="where the page links' and the audit's secrets are kept (made on first use); processes that are one "
        "processor (one database) must share them: the same directory, or copies of its files (MIE_SECRETS_DIR; "
        "default DATA-DIR/secrets)",
    )
    parser.add_argument(
        "--migrations",
        action="append",
        type=Path,
        default=[Path(part) for part in (_env("MIGRATIONS", "") or "").split(os.pathsep) if part],
        metavar="DIR",
        help="a directory of schema revisions beyond the packaged ones, e.g. a draft spec's (repeatable; "
        "MIE_MIGRATIONS, separated by ':')",
    )


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on (MIE_HOST)")
    parser.add_argument("--http-port", type=int, default=int(_env("HTTP_PORT", "8080") or 8080), help="HTTP port (MIE_HTTP_PORT)")
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(_env("MAX_BODY_BYTES", str(10 * 1024 * 1024)) or 0),
        help="largest JSON request body accepted (MIE_MAX_BODY_BYTES; default 10 MiB)",
    )
    parser.add_argument(
        "--max-file-bytes",
        type=int,
        default=int(_env("MAX_FILE_BYTES", str(1024 * 1024 * 1024)) or 0),
        help="largest uploaded DICOM or PDF file accepted (MIE_MAX_FILE_BYTES; default 1 GiB)",
    )
    parser.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=(_env("STRICT", "") or "").lower() in ("1", "true", "yes"),
        help="refuse what the spec makes a warning (spec/ERRATA.md, Severities) instead of saving it and naming "
        "it in the answer (MIE_STRICT=1)",
    )
    add_retrieval_options(parser)


def add_retrieval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL", None),
        help="the address other institutions reach this processor at, e.g. http://10.1.2.3:8080: §2.6 answers links "
        "under it (MIE_PUBLIC_URL; default http://HOST:HTTP-PORT)",
    )
    parser.add_argument(
        "--link-ttl",
        type=int,
        default=int(_env("LINK_TTL_SECONDS", str(DEFAULT_LINK_TTL_SECONDS)) or DEFAULT_LINK_TTL_SECONDS),
        help="seconds the report and image links of a §2.6 answer stay valid "
        f"(MIE_LINK_TTL_SECONDS; default {DEFAULT_LINK_TTL_SECONDS})",
    )
    parser.add_argument(
        "--require-query-key",
        action=argparse.BooleanOptionalAction,
        default=(_env("REQUIRE_QUERY_KEY", "") or "").lower() in ("1", "true", "yes"),
        help="§2.6-§2.8 must always carry the institution's key, the source address is not enough "
        "(MIE_REQUIRE_QUERY_KEY)",
    )
    parser.add_argument(
        "--viewer-dir",
        default=_env("VIEWER_DIR", str(DEFAULT_VIEWER_DIR)),
        help="OHIF Viewer's prebuilt files (bin/install-ohif DIR installs them): the image link opens OHIF when "
        "they are there, the light page otherwise; empty for the light page only "
        f"(MIE_VIEWER_DIR; default {DEFAULT_VIEWER_DIR})",
    )


MAX_AUTO_DICOM_WORKERS = 4


def cores() -> int:
    """The cores this process may run on (os.process_cpu_count on Python 3.13+, else the scheduler's affinity)."""
    counted = getattr(os, "process_cpu_count", None)
    if counted is not None:
        return max(1, counted() or 1)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _count(value: str, auto: int) -> int:
    if value == "auto":
        return auto
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1, or auto")
    return count


def http_workers(value: str) -> int:
    """`--workers`: a number, or auto: one HTTP worker process per core (one Python process uses one core)."""
    return _count(value, cores())


def _workers(value: str) -> int:
    return _count(value, min(cores(), MAX_AUTO_DICOM_WORKERS))


def add_dicom_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dicom-port",
        type=int,
        default=int(_env("DICOM_PORT", "11112") or 0),
        help="DICOM C-STORE SCP port, 0 for none (MIE_DICOM_PORT; default 11112)",
    )
    parser.add_argument("--ae-title", default=_env("AE_TITLE", "MIE"), help="the SCP's AE title (MIE_AE_TITLE; default MIE)")
    parser.add_argument(
        "--dicom-workers",
        type=_workers,
        default=_workers(_env("DICOM_WORKERS", "auto") or "auto"),
        help="SCP processes sharing the DICOM port, or auto: one per CPU, at most "
        f"{MAX_AUTO_DICOM_WORKERS} (MIE_DICOM_WORKERS; default auto). One Python process uses one core.",
    )


def _days(value: str) -> float:
    days = float(value)
    if not days >= 0:  # NaN too
        raise argparse.ArgumentTypeError("a number of days, 0 or more")
    return days


def add_pending_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pending-days",
        type=_days,
        default=_days(_env("PENDING_DAYS", str(DEFAULT_PENDING_DAYS)) or str(DEFAULT_PENDING_DAYS)),
        metavar="DAYS",
        help="how long an instance sent by C-STORE before its study's registration (§2.1 or §2.3) is kept waiting "
        "for it before it is removed, with an audit event (MIE_PENDING_DAYS; default "
        f"{DEFAULT_PENDING_DAYS:g})",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        host=getattr(args, "host", "127.0.0.1"),
        http_port=getattr(args, "http_port", 8080),
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        max_body_bytes=getattr(args, "max_body_bytes", 10 * 1024 * 1024),
        max_file_bytes=getattr(args, "max_file_bytes", 1024 * 1024 * 1024),
        dicom_port=getattr(args, "dicom_port", 11112),
        ae_title=getattr(args, "ae_title", "MIE"),
        dicom_workers=getattr(args, "dicom_workers", 1),
        public_url=getattr(args, "public_url", None),
        link_ttl_seconds=getattr(args, "link_ttl", DEFAULT_LINK_TTL_SECONDS),
        require_query_key=getattr(args, "require_query_key", False),
        strict=getattr(args, "strict", False),
        migrations=tuple(getattr(args, "migrations", None) or ()),
        viewer_dir=Path(args.viewer_dir) if getattr(args, "viewer_dir", None) else None,
        object_store=getattr(args, "object_store", None) or None,
        secrets_dir=Path(args.secrets_dir) if getattr(args, "secrets_dir", None) else None,
        pending_days=getattr(args, "pending_days", DEFAULT_PENDING_DAYS),
    )


def settings_from_environment() -> Settings:
    """The settings the MIE_ variables give (an option's default where its variable is unset)."""
    parser = argparse.ArgumentParser()
    add_server_options(parser)
    add_storage_options(parser)
    add_dicom_options(parser)
    add_pending_options(parser)
    return settings_from(parser.parse_args([]))


RECOVERED_BY = "MIE_RECOVERED_BY"
"""Set by `mie serve --workers N` to its process id: its workers (its children) then skip start-up recovery."""


def settings_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the MIE_ variable its option reads (MIE_ + the field's name), for worker processes
    that build their own processor: a setting left out here would silently fall back to its default there."""
    values = {field.name: getattr(settings, field.name) for field in fields(Settings)}
    values["database_url"] = settings.effective_database_url
    values["migrations"] = os.pathsep.join(str(path) for path in settings.migrations) or None
    values["viewer_dir"] = settings.viewer_dir or ""  # None is "no viewer" (empty), not the option's default
    # None is "not set": the option's default applies, as it did here
    return {f"MIE_{name.upper()}": str(value) for name, value in values.items() if value is not None}
