"""The built-in alert rules: each takes an event and the facts it needs, and returns a Verdict."""
