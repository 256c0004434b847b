"""Infrastructure shared by ingest functions and extraction helpers."""
