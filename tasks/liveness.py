"""Signs of life of the Celery processes, read by /readyz and the metrics.

Every LIVENESS_INTERVAL_SECONDS each worker records that it is alive for each queue it
consumes, and beat records it from its scheduler loop. The records live in the broker's Redis,
one sorted set per role (`reviewer:alive:worker:<queue>`, `reviewer:alive:beat`): the member
is the process (Celery's node name for a worker, host:pid for beat), the score the time of its
last record on Redis's own clock, so hosts whose clocks drift never disagree about an age.
Each write trims members silent for KEEP_SECONDS, and the set expires when nothing writes to
it any more: the sets stay as small as the number of processes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

import redis
from celery import bootsteps
from celery.beat import PersistentScheduler

from tasks.broker import broker_client

logger = logging.getLogger(__name__)

LIVENESS_INTERVAL_SECONDS = 5
KEEP_SECONDS = 3600
PREFIX = "reviewer:alive:"
BEAT_KEY = f"{PREFIX}beat"


def worker_key(queue: str) -> str:
    return f"{PREFIX}worker:{queue}"


def redis_now(client: redis.Redis) -> float:
    seconds, micro = client.time()
    return seconds + micro / 1_000_000


def record_alive(keys: list[str], member: str) -> None:
    """`member` is alive now for each of `keys` (two round trips to the broker's Redis)."""
    client = broker_client()
    now = redis_now(client)
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.zadd(key, {member: now})
            pipe.zremrangebyscore(key, "-inf", now - KEEP_SECONDS)
            pipe.expire(key, KEEP_SECONDS)
        pipe.execute()


def forget(keys: list[str], member: str) -> None:
    """`member` stopped cleanly: it no longer counts, without waiting for its record to age."""
    with broker_client().pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.zrem(key, member)
        pipe.execute()


@dataclass(frozen=True)
class Seen:
    """What the records of one role say: how long since the newest one, and how many
    processes recorded within the window asked for."""

    age_seconds: float | None  # None: no record (none ever, or none for KEEP_SECONDS)
    processes: int


def last_seen(windows: dict[str, int]) -> dict[str, Seen]:
    """For each key, its newest record's age and the processes seen within its window (in
    seconds); one round trip. Raises redis errors: the caller says the broker is down."""
    keys = list(windows)
    with broker_client().pipeline(transaction=False) as pipe:
        pipe.time()
        for key in keys:
            pipe.zrange(key, 0, -1, withscores=True)
        (seconds, micro), *records = pipe.execute()
    now = seconds + micro / 1_000_000
    seen = {}
    for key, members in zip(keys, records, strict=True):
        ages = [max(0.0, now - score) for _member, score in members]
        seen[key] = Seen(
            age_seconds=min(ages) if ages else None,
            processes=sum(1 for age in ages if age <= windows[key]),
        )
    return seen


class _Recorder:
    """Records one process's liveness; logs when recording starts or stops failing, not at
    every attempt, so a Redis outage does not flood the log."""

    def __init__(self, keys: list[str], member: str) -> None:
        self.keys = keys
        self.member = member
        self.failing = False

    def __call__(self) -> None:
        try:
            record_alive(self.keys, self.member)
        except redis.RedisError as exc:
            if not self.failing:
                logger.warning("liveness not recorded: broker Redis unreachable (%s)", type(exc).__name__)
            self.failing = True
            return
        if self.failing:
            logger.info("liveness recorded again")
        self.failing = False


class WorkerLiveness(bootsteps.StartStopStep):
    """A worker bootstep: record liveness for each consumed queue on the worker's own timer.

    The timer is driven by the worker's event loop, so a record proves that the loop that
    takes messages turns, not only that the process exists. A write waits at most the Redis
    timeout; while Redis is down the worker cannot take messages anyway.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.recorder: _Recorder | None = None
        self.timer_entry = None

    def start(self, worker) -> None:
        queues = sorted(worker.app.amqp.queues.consume_from)
        self.recorder = _Recorder([worker_key(queue) for queue in queues], worker.hostname)
        self.recorder()
        self.timer_entry = worker.timer.call_repeatedly(LIVENESS_INTERVAL_SECONDS, self.recorder, priority=10)

    def stop(self, worker) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
        if self.recorder is not None:
            try:
                forget(self.recorder.keys, self.recorder.member)
            except redis.RedisError:
                pass  # its record ages out instead


class LivenessScheduler(PersistentScheduler):
    """Celery's default beat scheduler, recording beat's liveness from its own loop.

    Beat sleeps until its next due entry; `tick` returns at most LIVENESS_INTERVAL_SECONDS so
    that a record is written that often whatever the schedule. A record proves that the loop
    that sends the periodic messages turns. Selected by CELERY_BEAT_SCHEDULER.
    """

    def __init__(self, *args, **kwargs) -> None:
        self._recorder = _Recorder([BEAT_KEY], f"{socket.gethostname()}:{os.getpid()}")
        self._recorded_at = float("-inf")
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        interval = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._recorded_at >= LIVENESS_INTERVAL_SECONDS:
            self._recorded_at = now
            self._recorder()
        return min(interval, LIVENESS_INTERVAL_SECONDS)

    def close(self) -> None:
        try:
            forget(self._recorder.keys, self._recorder.member)
        except redis.RedisError:
            pass
        super().close()
