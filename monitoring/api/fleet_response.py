"""The body of GET /connections/status, rendered once per state of the fleet in each web process.

Monitoring scripts poll this list more than anything else, and between two probe chunks it
does not change: the same rows, the same JSON. Each web process keeps the last body it
rendered, with the fleet generation it was rendered from (connections/fleet_status.py) and
the moment until which its health judgements hold (when the first healthy result in it turns
stale). A request serves that body while both still hold, which costs one Redis read;
otherwise it renders anew. So a result turns stale on time, and a fleet with a stale result
is rendered on every request (its "no probe result for N minutes" moves with the clock).
Nothing is kept while Redis is unreachable (no generation to check against), and no body
lives longer than FLEET_STATUS_CACHE_SECONDS, like the cache it comes from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from connections import fleet_status
from connections.health import HealthJudge
from monitoring.api.renderers import SpacedJSONRenderer
from monitoring.api.serializers import fleet_status_item


@dataclass(frozen=True)
class RenderedFleet:
    generation: str
    unchanged_until: datetime
    rendered_at: float  # time.monotonic()
    body: bytes


# This process's last rendering; replaced whole, so a thread never sees half of one.
_last: RenderedFleet | None = None


def fleet_status_body() -> bytes:
    """The JSON body of GET /connections/status, judged now."""
    global _last
    judge = HealthJudge()
    last = _last
    if (
        last is not None
        and judge.now < last.unchanged_until
        and time.monotonic() - last.rendered_at < settings.FLEET_STATUS_CACHE_SECONDS
        and fleet_status.current_generation() == last.generation
    ):
        return last.body
    generation, entries = fleet_status.fleet_snapshot()
    body = SpacedJSONRenderer().render([fleet_status_item(entry, judge) for entry in entries])
    if generation is not None and settings.FLEET_STATUS_CACHE_SECONDS:
        until = judge.unchanged_until(entry.checked_at for entry in entries if entry.is_healthy)
        _last = RenderedFleet(generation, until, time.monotonic(), body)
    return body
