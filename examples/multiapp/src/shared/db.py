"""Connections shared by every App of the repository."""

from __future__ import annotations

import os

import psycopg
from supabase import create_client


def supabase():
    return create_client(os.environ["SUPABASE_URL"], os.environ["SUPABASE_SERVICE_KEY"])


def postgres():
    return psycopg.connect(os.environ["DATABASE_URL"])
