"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "603efcae190bb817d2de71527fc87d6886f7ebed077cecb28689d8a98965c4d1"
