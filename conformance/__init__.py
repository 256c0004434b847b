"""conformance: makes workflow registration mandatory for Modal ingest functions."""

__version__ = "0.2.0"
