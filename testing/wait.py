"""Polling with a bound: tests wait for real processes, never forever."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
