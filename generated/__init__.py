"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "e3993a72ccccee5ac4ba05ae94280f295ac4d1948b8171a777ed0aa0a398ab3a"
