"""Events and customer actions in, decisions made, rows written: one transaction each."""
