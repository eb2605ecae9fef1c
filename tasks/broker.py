"""What the Redis broker holds for the reviews queue: which run messages are waiting.

The reaper asks this before it calls a pending run lost, so a long backlog is never mistaken
for a lost message. Reads are bounded (BROKER_SCAN_LIMIT messages).
"""

from __future__ import annotations

import json

from celery import current_app

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
