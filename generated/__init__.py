"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""

SPEC_SHA256 = "84f1ad843ec2fb08d81a84f1c9311b3cdada795c206278607828077e2bdcf998"
