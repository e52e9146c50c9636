"""The live stream's metrics (names fixed: dashboards use them)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STREAMS_OPEN = Gauge(
    "agencyos_stream_connections",
    "Live stream connections open in this process",
)
STREAM_FRAMES = Counter(
    "agencyos_stream_frames_sent_total",
    "Frames written to live stream connections, by kind: event, heartbeat, control",
    ["kind"],
)
STREAM_CLOSED = Counter(
    "agencyos_stream_disconnects_total",
    "Live stream connections ended, by reason: client (the client went away), token_expired, "
    "too_slow, shutdown, cursor_expired, unavailable, error",
    ["reason"],
)
STREAM_HUB_ENTRIES = Counter(
    "agencyos_stream_hub_entries_total",
    "Feed entries the hub read from the feed topic",
)
STREAM_RESUMES = Counter(
    "agencyos_stream_resumes_total",
    "Streams opened with a cursor, by where their catch-up came from: memory (the hub's recent "
    "entries) or database",
    ["source"],
)
