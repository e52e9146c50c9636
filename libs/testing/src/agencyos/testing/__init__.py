"""Test toolkit shared by every package's tests: real PostgreSQL databases, real Kafka topics,
real service processes. Loaded as a pytest plugin (`-p agencyos.testing.plugin`)."""
