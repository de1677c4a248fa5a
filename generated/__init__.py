"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "5a04c06bbc1c97791526fdd00768469d8813ca96bf5f9cbc7fe36c44626e20d4"
