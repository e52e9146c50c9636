"""Portal: what a client user of an agency sees and does — its dashboard, its client's
projects, the tasks, milestones and deliverables shown to it, decisions on deliverables,
feedback, comments and invoices (through work's and billing's gRPC, with the client user's own
token), and its recent activity (a read model the portal keeps from work's and billing's
events)."""
