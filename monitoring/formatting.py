"""How the API writes times and durations (contract.md, "Representation")."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_timestamp(value: datetime | None) -> str | None:
    """UTC, ISO 8601, whole seconds, trailing Z: "2024-01-01T02:00:00Z".

    Exactly the form jq's `fromdateiso8601` accepts (no fraction, no offset), which the
    document's alerting script relies on. Fractions are truncated, not rounded, so a time
    is never written later than it happened.
    """
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
