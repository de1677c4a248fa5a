"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "44e40912a81657f6254e7b9c98e25378051d038e4b2cdca6be5338417fd9b86b"
