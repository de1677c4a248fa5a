"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "831a56bca0eb8afd1fbb834f5f2c81a982713c447fbd48929b0a11542261900d"
