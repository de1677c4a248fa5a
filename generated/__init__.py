"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "140f8d98b4eb524e2d276b7797abf1ec7bab6f3c3c561f6f71fca9122506e534"
