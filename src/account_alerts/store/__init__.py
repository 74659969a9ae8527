"""Persistence: the tables, the engines and sessions, and the queries."""
