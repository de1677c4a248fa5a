"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "0301557350e8c27dcf1edc4c9ca24a6bd71c133fac917a702239ec894d179baa"
