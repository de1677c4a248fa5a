"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "b53ee54b437e46273f70848e0355447d8c0b4947b807f1538a99a6304b601d13"
