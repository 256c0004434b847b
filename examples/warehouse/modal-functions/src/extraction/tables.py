"""Schema and table names shared by several modules."""

CORE_SCHEMA = "core"
EXTRACTED_SCHEMA = "extracted"

SIGNALS_TABLE = "company_signals"
PEOPLE_TABLE = "people"
EMPLOYMENT_TABLE = "person_employment"
