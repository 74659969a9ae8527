"""The GraphQL API and the Starlette application that serves it."""
