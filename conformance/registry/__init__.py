"""The registry as one value from either source: the committed file or the live table.

``entries`` validates rows from either source; ``file`` reads and writes the registry file (no
database needed); ``postgres`` is the only module that talks to PostgreSQL; ``plan`` compares
the two; ``draft`` drafts entries from code. Which source a run reads is decided by
:func:`conformance.api.registry_source`.
"""
