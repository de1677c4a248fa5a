"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "e46cc8808cfc7b5b564a0b12c09a19a52fe5da033892b6e1523e3da45a1dbda7"
