"""What the Redis broker holds: which run messages are waiting, and how long each queue is.

The reaper asks this before it calls a pending run lost, so a long backlog is never mistaken
for a lost message. Reads are bounded (BROKER_SCAN_LIMIT messages). The metrics and the
readiness check read queue lengths and liveness through `broker_client()`, a plain Redis
client with the service's timeouts and no retries, so a dead Redis costs them one timeout.
"""

from __future__ import annotations

import json
import threading

import redis
from celery import current_app
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

BROKER_SCAN_LIMIT = 20_000
REVIEWS_QUEUE = "reviews"
# kombu's Redis transport keeps delivered-but-unacknowledged messages in this hash.
UNACKED_KEY = "unacked"


def _message_id(raw: bytes | str) -> str | None:
    try:
        payload = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if isinstance(payload, list):  # unacked entries are [message, exchange, routing_key]
        payload = payload[0] if payload else {}
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    headers = payload.get("headers") or {} if isinstance(payload, dict) else {}
    return headers.get("id")


def waiting_message_ids() -> set[str]:
    """Celery task ids of run messages queued or held (unacknowledged) by a worker."""
    with current_app.connection_for_read() as conn:
        client = conn.default_channel.client
        queued = client.lrange(REVIEWS_QUEUE, 0, BROKER_SCAN_LIMIT - 1)
        held = []
        cursor = 0
        while True:
            cursor, batch = client.hscan(UNACKED_KEY, cursor, count=1000)
            held.extend(batch.values())
            if cursor == 0 or len(held) >= BROKER_SCAN_LIMIT:
                break
    ids = {_message_id(raw) for raw in [*queued, *held]}
    ids.discard(None)
    return ids


def celery_queues() -> list[str]:
    """Every queue the service routes messages to, sorted: the default queue and the
    CELERY_TASK_ROUTES targets (reviews, probes, and any queue added there later)."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if route.get("queue")}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def broker_client() -> redis.Redis:
    """A Redis client of the broker database (one pool per URL, shared by the process's
    threads), with REDIS_TIMEOUT_SECONDS on connect and on every reply."""
    url = settings.CELERY_BROKER_URL
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url,
                socket_timeout=settings.REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=settings.REDIS_TIMEOUT_SECONDS,
                # A pooled connection that Redis dropped (a restart) is replaced once at
                # once; a timeout is not retried, so a dead Redis costs one timeout.
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[redis.ConnectionError],
            )
    return client


def queue_lengths(queues: list[str]) -> dict[str, int]:
    """Messages waiting in each queue (kombu keeps a queue as a Redis list of its name);
    one round trip. Messages a worker holds unacknowledged are not counted."""
    with broker_client().pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue)
        return dict(zip(queues, pipe.execute(), strict=True))
