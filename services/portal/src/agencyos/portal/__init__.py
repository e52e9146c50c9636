"""Portal: client-portal access, branding, feedback and deliverable approvals.

Not built yet: this service starts, migrates its platform tables and answers health,
readiness and metrics, and serves no API routes of its own.
"""
