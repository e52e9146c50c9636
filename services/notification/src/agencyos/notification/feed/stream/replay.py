"""The newest entries the hub dispatched for one agency, kept so a resume from among them
needs no database read.

They form one run of consecutive seqs (an entry whose seq is not the last + 1 starts a new run;
one at or below the last is a redelivery, skipped), at most `size` of them, none older than
`max_age` seconds: since retention deletes only events older than a day or more, a cursor
inside the run is never behind it (410), and being a seq the agency reached, never past its
head (400).
"""

from __future__ import annotations

import itertools
import time
from collections import deque

from agencyos.notification.feed.visibility import FeedEntry


class RecentEntries:
    def __init__(self, size: int, max_age: float) -> None:
        self.max_age = max_age
        self._entries: deque[FeedEntry] = deque(maxlen=size)
        # when each entry was taken (monotonic), in the same order
        self._taken_at: deque[float] = deque(maxlen=size)

    def add(self, entry: FeedEntry, now: float | None = None) -> None:
        entries = self._entries
        if entries:
            last = entries[-1].seq
            if entry.seq <= last:
                return  # a redelivery, or one arriving after a later one (which began a run)
            if entry.seq != last + 1:
                entries.clear()  # the topic skipped some: only what follows is consecutive
                self._taken_at.clear()
        entries.append(entry)
        self._taken_at.append(time.monotonic() if now is None else now)

    def _expire(self, now: float | None) -> None:
        cutoff = (time.monotonic() if now is None else now) - self.max_age
        while self._taken_at and self._taken_at[0] < cutoff:
            self._taken_at.popleft()
            self._entries.popleft()

    def holds(self, after_seq: int, now: float | None = None) -> bool:
        """Whether every entry after `after_seq` is here: `after_seq` within the run, or
        right before its first."""
        self._expire(now)
        entries = self._entries
        return bool(entries) and entries[0].seq - 1 <= after_seq <= entries[-1].seq

    def after(self, after_seq: int, now: float | None = None) -> list[FeedEntry] | None:
        """The entries after `after_seq` through the newest, or None when not all are here."""
        if not self.holds(after_seq, now):
            return None
        # consecutive seqs: the one after `after_seq` is at index after_seq - first + 1
        start = after_seq - self._entries[0].seq + 1
        return list(itertools.islice(self._entries, start, None))
