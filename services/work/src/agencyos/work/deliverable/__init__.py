"""Deliverables: what the agency hands a client, its approval state machine and history."""
