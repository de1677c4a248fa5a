"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "5d34aa993de6fbe3b8b09ab9a1c39001bcaa902599a84cc2771486d053435d27"
