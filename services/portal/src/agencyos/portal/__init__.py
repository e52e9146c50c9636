"""Portal: what a client user of an agency sees and does — its client's projects, the tasks and
deliverables shown to it, decisions on deliverables, feedback and comments (through work's
gRPC, with the client user's own token)."""
