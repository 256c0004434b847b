"""Turns raw payloads into extracted and core rows. Imported by ingest functions."""
