"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "6bb0260c954899544d6e21adc0c6d21cb6618ef342dfacdf936b474cf357fe3a"
