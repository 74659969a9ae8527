"""Pure business rules: no clock, no database, no network."""
