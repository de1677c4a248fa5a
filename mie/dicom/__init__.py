"""The DICOM entry point: a C-STORE SCP that hands every received instance to the ingest service."""
