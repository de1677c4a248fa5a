"""The vendor toolkit: offline validation of requests (`validate`) and comparing spec revisions (`specdiff`)."""
