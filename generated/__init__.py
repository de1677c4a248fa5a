"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "a9f69de53e7e2d0f965c15494801cc087ed2c98c95941f04e631ada6211a0c48"
