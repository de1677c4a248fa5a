"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "ac6c9699ff92799fb35ccf4c01c9bc9f6c46f6b8f1ae637847a8a762c8de9380"
