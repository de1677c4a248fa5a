"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "80b7220f9b58ca71eb0a72dfd639bc7a35aaee9bd11a4456eb72cf7846f6aeef"
