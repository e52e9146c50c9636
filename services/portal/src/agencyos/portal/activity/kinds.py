"""What the client's recent activity tells of, one kind per entry."""

from enum import StrEnum


class ActivityKind(StrEnum):
    TASK_CREATED = "task_created"  # a task the client sees was created (feedback included)
    TASK_SHARED = "task_shared"  # an internal task was shown to the client
    TASK_STATUS_CHANGED = "task_status_changed"
    COMMENT_ADDED = "comment_added"  # a client-visible comment (its text is never kept)
    DELIVERABLE_SUBMITTED = "deliverable_submitted"
    DELIVERABLE_APPROVED = "deliverable_approved"
    DELIVERABLE_CHANGES_REQUESTED = "deliverable_changes_requested"
    INVOICE_SENT = "invoice_sent"
    INVOICE_PAID = "invoice_paid"
