"""Typed clients of the services' gRPC contracts: one per contract (identity, crm, work,
time), used by every caller. Each turns the wire messages into typed values once (UUIDs, dates,
zones; "" and 0 placeholders become None), maps gRPC statuses to our errors, and calls with
the caller's own token, so every answer is for the caller's agency and what the caller may see.

A client is made per request (or per unit of work: one scheduler tick, one event) with
`.of(settings)`: it remembers what it was told for its lifetime, so asking again within one
request for ids already answered costs no call.
"""
