"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "9ad0bd724841685e318f1a0fffad0aab7100d98fa0108c89c28cbaf3471dedaf"
