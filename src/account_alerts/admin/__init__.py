"""The risk team's console at /admin: server-rendered pages over the same engine as the
GraphQL API."""
