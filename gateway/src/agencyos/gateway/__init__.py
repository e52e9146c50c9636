"""The API gateway: verifies the caller, routes /v1/* to the owning service, serves the
merged OpenAPI."""
