"""Times in results and finding details are written as the API writes them; text for people
as the console shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from tasks.logs.detectors import LogAnalyzer
from tasks.logs.findings import LogFinding
from tasks.logs.parser import make_parser
from tasks.timestamps import json_times, same_instant, utc_iso, utc_text

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_an_aware_time_is_written_in_utc_with_a_z_and_whole_seconds():
    moment = datetime(2024, 1, 1, 4, 0, 0, 999_999, tzinfo=PARIS_SUMMER)
    assert utc_iso(moment) == "2024-01-01T02:00:00Z"  # truncated: never later than it happened
    assert utc_iso(None) is None


def test_a_naive_time_is_not_labelled_utc():
    # A log line whose zone abbreviation could not be resolved: the offset is unknown.
    assert utc_iso(datetime(2024, 1, 1, 2, 0, 0, 500)) == "2024-01-01T02:00:00"


def test_text_for_people_is_the_consoles_form():
    assert utc_text(datetime(2024, 1, 1, 4, 5, 59, tzinfo=PARIS_SUMMER)) == "2024-01-01 02:05 UTC"


def test_json_times_reaches_every_datetime_inside():
    moment = datetime(2024, 1, 1, 2, 0, 0, 123, tzinfo=UTC)
    value = {"at": moment, "list": [moment, (moment, 1)], 2: {"day": date(2024, 1, 1)}, "n": 1.5, "s": "x"}
    assert json_times(value) == {
        "at": "2024-01-01T02:00:00Z",
        "list": ["2024-01-01T02:00:00Z", ["2024-01-01T02:00:00Z", 1]],
        "2": {"day": "2024-01-01"},
        "n": 1.5,
        "s": "x",
    }


def test_an_older_result_in_the_plus_zero_form_names_the_same_instant():
    assert same_instant("2024-01-01T02:00:00.654321+00:00", "2024-01-01T02:00:00Z")
    assert same_instant("2024-01-01T04:00:00+02:00", "2024-01-01T02:00:00Z")
    assert not same_instant("2024-01-01T02:00:01Z", "2024-01-01T02:00:00Z")
    assert same_instant(None, None) and not same_instant(None, "2024-01-01T02:00:00Z")
    assert not same_instant("garbage", "2024-01-01T02:00:00Z")


def test_a_log_analysis_result_carries_z_times():
    log = (
        b"2024-05-01 12:00:00.120 UTC [10] postgres@orders ERROR:  division by zero\n"
        b"2024-05-01 14:30:59.980 CEST [10] postgres@orders ERROR:  division by zero\n"
    )
    parser = make_parser("stderr", "%m [%p] %q%u@%d ")
    analyzer = LogAnalyzer()
    analyzer.add_all(parser.feed(log))
    analyzer.add_all(parser.close(partial=True))
    result = analyzer.finish().as_dict()

    assert result["summary"]["first_entry_at"] == "2024-05-01T12:00:00Z"
    assert result["summary"]["last_entry_at"] == "2024-05-01T12:30:59Z"
    (error,) = (f for f in result["findings"] if f["category"] == "error")
    assert (error["first_seen"], error["last_seen"]) == ("2024-05-01T12:00:00Z", "2024-05-01T12:30:59Z")


def test_a_log_finding_writes_its_times_and_details_in_the_z_form():
    moment = datetime(2024, 1, 1, 2, 0, 0, 5, tzinfo=UTC)
    finding = LogFinding("warning", "x", "m", 1, moment, None, "", details={"seen": moment})
    data = finding.as_dict()
    assert (data["first_seen"], data["last_seen"], data["details"]["seen"]) == (
        "2024-01-01T02:00:00Z",
        None,
        "2024-01-01T02:00:00Z",
    )


def test_a_year_before_1000_keeps_four_digits():
    assert utc_iso(datetime(999, 1, 1, 2, 0, 0, tzinfo=UTC)) == "0999-01-01T02:00:00Z"
