"""Timestamps and estimated durations are written exactly as docs/api.md says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connections.durations import human_duration
from monitoring.api.serializers import utc_timestamp


def test_a_timestamp_is_utc_with_whole_seconds_and_a_trailing_z():
    moment = datetime(2024, 1, 1, 2, 0, 0, 987654, tzinfo=UTC)
    assert utc_timestamp(moment) == "2024-01-01T02:00:00Z"


def test_a_timestamp_in_another_zone_is_converted_to_utc():
    moment = datetime(2024, 1, 1, 5, 30, 15, tzinfo=timezone(timedelta(hours=3)))
    assert utc_timestamp(moment) == "2024-01-01T02:30:15Z"


def test_no_timestamp_is_null():
    assert utc_timestamp(None) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "1 second"),
        (1, "1 second"),
        (1.4, "1 second"),
        (2, "2 seconds"),
        (45, "45 seconds"),
        (59.4, "59 seconds"),
        (59.6, "1 minute"),
        (60, "1 minute"),
        (89, "1 minute"),
        (90, "2 minutes"),
        (150, "3 minutes"),
        (300, "5 minutes"),
        (3569, "59 minutes"),
        (3570, "1 hour"),
        (3600, "1 hour"),
        (3660, "1 hour 1 minute"),
        (4200, "1 hour 10 minutes"),
        (7200, "2 hours"),
        (7200 + 45 * 60, "2 hours 45 minutes"),
        (30 * 3600, "30 hours"),
    ],
)
def test_a_duration_reads_as_a_person_would_say_it(seconds, text):
    assert human_duration(seconds) == text
