"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "97ff568decbc7477c33e108dd0ab1a9e864176b05d922b18c0cd0e46105d4e68"
