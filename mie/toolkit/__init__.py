"""The vendor toolkit: offline validation (and, later, conformance runs and spec diffs)."""
