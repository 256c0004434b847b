"""One module per client library the analyzer recognises; importing this package registers
their recognisers (see :mod:`conformance.analysis.parse.calls`)."""

from conformance.analysis.parse.clients import (
    asyncpg,
    modal,
    pandas,
    psycopg,
    sqlalchemy,
    supabase,
)

__all__ = ["asyncpg", "modal", "pandas", "psycopg", "sqlalchemy", "supabase"]
