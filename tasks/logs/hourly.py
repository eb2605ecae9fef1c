"""Per-hour figures of a log, at no cost per statement.

The workload report draws queries, query time, errors, connections, sessions, checkpoints,
temp files and autovacuums per hour. Counting each statement into its hour would cost a
lookup per statement; instead the analyzer is fed one hour at a time (`split`, which looks
at each chunk's first and last entry and only walks a chunk the hour changes in), the
statements of an hour are the growth of the analyzer's running totals over it (`query_totals`,
read when the hour changes), and the rare events add to the current hour's bucket directly.

A bucket is an hour of UTC (a log written in a zone with a half-hour offset has its local
hours in the UTC hour they start in). At most MAX_BUCKETS buckets span the log: a longer log
gets coarser buckets (2, 4, 8... hours each, `bucket_hours` in the result), so nothing is
dropped. An entry a few milliseconds out of order across an hour boundary, within one chunk,
may count in the neighbouring hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from tasks.logs.entry import RAW_TIME, LogEntry, parse_log_time
from tasks.timestamps import utc_iso

MAX_BUCKETS = 24 * 31
COLUMNS = (
    "queries",
    "query_ms",
    "errors",
    "fatals",
    "panics",
    "warnings",
    "connections",
    "sessions",
    "checkpoints",
    "checkpoint_buffers",
    "temp_files",
    "temp_bytes",
    "autovacuums",
)
(
    QUERIES,
    QUERY_MS,
    ERRORS,
    FATALS,
    PANICS,
    WARNINGS,
    CONNECTIONS,
    SESSIONS,
    CHECKPOINTS,
    CHECKPOINT_BUFFERS,
    TEMP_FILES,
    TEMP_BYTES,
    AUTOVACUUMS,
) = range(len(COLUMNS))
_MAX_KEYS = 4096  # raw hour keys remembered


def hour_key(raw: str | None) -> str:
    """What tells an entry's hour apart, taken from its time as logged: "2024-05-01 12" for
    %t / %m (and csvlog, jsonlog), the epoch hour for %n."""
    if not raw:
        return ""
    if raw[4:5] == "-":
        return raw[:13]
    try:
        return str(int(float(raw)) // 3600)
    except ValueError:
        return ""


class HourlyBuckets:
    """Buckets of COLUMNS per hour; `current` is the bucket of the entries being fed."""

    def __init__(self, query_totals: Callable[[], tuple[int, float]]) -> None:
        self.query_totals = query_totals  # the analyzer's running (queries, query_ms)
        self.width = 1  # hours per bucket
        self.buckets: dict[int, list[float]] = {}  # first hour (epoch hours) -> columns
        self.current: list[float] = [0] * len(COLUMNS)  # until the first entry with a time
        self._current_hour: int | None = None
        self._key: str | None = None
        self._mark = (0, 0.0)
        self._hours: dict[str, int | None] = {}

    def split(self, entries: list[LogEntry]) -> Iterator[list[LogEntry]]:
        """`entries` in runs of one hour each, switching buckets between runs (consume each
        run before asking for the next)."""
        if not entries:
            return
        key = hour_key(entries[0][RAW_TIME])
        if key != self._key:
            self._switch(key, entries[0][RAW_TIME])
        if hour_key(entries[-1][RAW_TIME]) == key:
            yield entries
            return
        start = 0
        for index, entry in enumerate(entries):
            raw = entry[RAW_TIME]
            if raw and not raw.startswith(key):
                other = hour_key(raw)
                if other != key:
                    yield entries[start:index]
                    start, key = index, other
                    self._switch(key, raw)
        yield entries[start:]

    def _switch(self, key: str, raw: str | None) -> None:
        self._settle()
        self._key = key
        hours = self._hours
        if key not in hours:
            if len(hours) >= _MAX_KEYS:
                hours.clear()
            hours[key] = _hour_of(key, raw)
        hour = hours[key]
        if hour is None:
            return  # an entry without a readable time: it counts in the hour before it
        bucket = self.buckets.get(hour - hour % self.width)
        if bucket is None:
            if self.buckets:
                low, high = min(min(self.buckets), hour), max(max(self.buckets), hour)
                while (high - high % self.width) - (low - low % self.width) >= MAX_BUCKETS * self.width:
                    self._coarsen()
            bucket = self.buckets.setdefault(hour - hour % self.width, [0] * len(COLUMNS))
        self._current_hour = hour
        self.current = bucket

    def _settle(self) -> None:
        """Add the statements since the last switch to the current bucket."""
        queries, query_ms = self.query_totals()
        current = self.current
        current[QUERIES] += queries - self._mark[0]
        current[QUERY_MS] += query_ms - self._mark[1]
        self._mark = (queries, query_ms)

    def _coarsen(self) -> None:
        self.width *= 2
        merged: dict[int, list[float]] = {}
        for hour, bucket in self.buckets.items():
            slot = hour - hour % self.width
            into = merged.get(slot)
            if into is None:
                merged[slot] = bucket
            else:
                for index, value in enumerate(bucket):
                    into[index] += value
        self.buckets = merged
        if self._current_hour is not None:
            self.current = merged[self._current_hour - self._current_hour % self.width]

    def result(self) -> dict:
        """{"bucket_hours", "start": [UTC times], and one list per column}, every bucket
        from the first to the last (empty ones as zeros)."""
        self._settle()
        out: dict = {"bucket_hours": self.width, "start": [], **{name: [] for name in COLUMNS}}
        if not self.buckets:
            return out
        first, last = min(self.buckets), max(self.buckets)
        step = self.width
        empty = [0] * len(COLUMNS)
        for slot in range(first, last + step, step):
            bucket = self.buckets.get(slot, empty)
            out["start"].append(utc_iso(datetime.fromtimestamp(slot * 3600, UTC)))
            for index, name in enumerate(COLUMNS):
                value = bucket[index]
                out[name].append(round(value, 3) if isinstance(value, float) else value)
        return out


def _hour_of(key: str, raw: str | None) -> int | None:
    """The UTC hour (hours since the epoch) an hour key starts in."""
    if not key:
        return None
    if key.isdigit():
        return int(key)
    moment = parse_log_time(raw or "")
    if moment is None:
        return None
    start = moment.replace(minute=0, second=0, microsecond=0)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)  # a zone we cannot resolve: taken as UTC
    return int(start.timestamp()) // 3600
