"""A running execution's sign of life: the worker touches `heartbeat_at` while it runs.

The reaper (tasks/reaper.py) fails a running execution whose heartbeat stopped — its worker
was killed, lost its host, or hung — instead of waiting for the broker's visibility timeout.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from tasks.models import ExecutionStatus, TaskExecution

logger = logging.getLogger(__name__)


@contextmanager
def heartbeat(execution_id: int):
    """Touch the execution's heartbeat every EXECUTION_HEARTBEAT_SECONDS until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.EXECUTION_HEARTBEAT_SECONDS):
                try:
                    TaskExecution.objects.filter(pk=execution_id, status=ExecutionStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError:
                    # A missed beat is not fatal; the reaper allows several.
                    logger.warning("heartbeat of execution %s not recorded", execution_id)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{execution_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
