"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "55ffb52c26bbd7c48a8d9ce5057efa9f0e25383d169c71f0cfbc0f21364c7230"
