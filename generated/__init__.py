"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "0dd5a9830df057e77d1276e64b918115516164da6faa64f1868d78eaf37e098d"
