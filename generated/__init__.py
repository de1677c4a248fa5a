"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "63c0c05e7514db7f3d0a7c32fe77cdc04acb78889e908908ba0d3333c903e6ef"
