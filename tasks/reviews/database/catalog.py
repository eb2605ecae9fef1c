"""Every database check, in the order a review runs them, and the thresholds they take."""

from __future__ import annotations

from tasks.reviews.database import (
    activity,
    indexes,
    maintenance,
    queries,
    replication,
    security,
    server_settings,
)
from tasks.reviews.database.check import AREAS, Check

CHECKS: dict[str, Check] = {
    check.name: check
    for module in (indexes, maintenance, activity, replication, queries, server_settings, security)
    for check in module.CHECKS
}

# Threshold names are global: one name, one meaning, whichever check reads it.
THRESHOLDS: dict[str, float] = {}
for _check in CHECKS.values():
    for _name, _default in _check.thresholds.items():
        assert _name not in THRESHOLDS, f"threshold {_name} declared twice"
        assert _check.area in AREAS, f"{_check.name}: unknown area {_check.area}"
        THRESHOLDS[_name] = _default
