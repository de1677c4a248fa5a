"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "dcc255b64191edfe9e0edf3bfa654cedbb908bd37e7aba65e2a06dcede5de16f"
