"""Milestones of a project: CRUD and completion (billing invoices completed ones)."""
