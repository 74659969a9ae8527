"""GraphQL types, mapped explicitly from the table rows and domain values."""
