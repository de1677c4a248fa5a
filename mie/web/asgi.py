"""`mie.web.asgi:app` for uvicorn/gunicorn workers: settings come from MIE_ environment variables."""

from __future__ import annotations

import argparse

from mie.config import add_server_options, add_storage_options, settings_from
from mie.runtime import Runtime
from mie.web.app import create_app


def _settings_from_environment() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_server_options(parser)
    add_storage_options(parser)
    return parser.parse_args([])


app = create_app(Runtime.open(settings_from(_settings_from_environment())))
