"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "c7b3cb34e50c629dde1970ad9984b8f359b7d2e7ccf1c4d5c67e1318062a377d"
