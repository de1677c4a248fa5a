"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "29468bde86077bd7d99bed0922296ec53e0e1914fe2c2ca6d2a4552cfff33bc9"
