"""The agency's feed, live: `GET /v1/stream` (server-sent events).

- `hub`: one Kafka consumer per process on the feed topic, handing each entry to the open
  connections of its agency (never waiting on any of them);
- `connection`: one reader's stream: resume from a cursor, gap healing from the database,
  visibility and `types=`, heartbeat, token expiry, the slow-client rule;
- `frames`: the bytes on the wire;
- `response`: the ASGI response driving a connection;
- `endpoints`: the route.
"""
