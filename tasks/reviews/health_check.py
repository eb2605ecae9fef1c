"""Task type `health_check`: probe the task's connection and record the result."""

from __future__ import annotations

from typing import Any

from connections.status import record_probe
from tasks.reviews.review import ConfigSchema, Review, ReviewFailed


def run(task, execution) -> dict[str, Any]:
    status = record_probe(task.connection)
    if not status.is_healthy:
        # An unreachable database means the check could not do its job: the run failed.
        raise ReviewFailed(status.error_message or "the database did not answer")
    return {
        "is_healthy": True,
        "response_time_ms": status.response_time_ms,
        "server_version": status.server_version,
    }


REVIEW = Review(name="health_check", label="Health check", config=ConfigSchema(), run=run)
