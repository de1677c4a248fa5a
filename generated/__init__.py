"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "09e8f01962d8ecdbe9a1959121dcad5864e1e084cd95a9df5eea63e9b1f3dc48"
