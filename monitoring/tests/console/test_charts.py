"""The SVG charts, as pure functions of their data: well-formed, titled, labelled, readable
without colour, and bounded in size whatever the amount of history."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from monitoring.console.charts import (
    HATCHED,
    MAX_LINE_POINTS,
    DayUptime,
    Probe,
    Series,
    compact_number,
    executions_chart,
    format_percent,
    hourly_chart,
    response_time_chart,
    uptime_chart,
    whole_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
END = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=24)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def probes(*spec: int | None) -> list[Probe]:
    """One check every 10 minutes ending at END; None is a failed check."""
    count = len(spec)
    return [Probe(END - timedelta(minutes=10 * (count - index)), ms is not None, ms) for index, ms in enumerate(spec)]


@pytest.mark.parametrize(
    ("largest", "expected"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 2, 4, 6]),  # never 2.5: no day has two and a half runs
        (7, [0, 2, 4, 6, 8]),
        (12, [0, 5, 10, 15]),
        (29, [0, 10, 20, 30]),
        (180, [0, 50, 100, 150, 200]),
        (501, [0, 200, 400, 600]),
    ],
)
def test_count_axes_have_whole_round_ticks_up_to_the_data(largest, expected):
    assert whole_ticks(largest) == expected


def y_tick_labels(root: ET.Element) -> list[str]:
    """The values written left of the plot (right-aligned at x=50)."""
    return [
        element.text
        for element in root.iter(f"{SVG}text")
        if element.get("text-anchor") == "end" and element.get("x") == "50.0"
    ]


@pytest.mark.parametrize("busiest", [1, 2, 3, 5, 7, 9, 13, 25, 99])
def test_the_executions_axis_never_shows_a_fraction_of_a_run(busiest):
    days = [date(2024, 3, 9), date(2024, 3, 10)]
    root = parse(executions_chart(days, {days[1]: {"completed": busiest}}, "Executions per day"))

    labels = y_tick_labels(root)
    assert len(labels) >= 2 and all(label.isdigit() for label in labels), labels
    assert int(labels[-1]) >= busiest
    # The day's total, written above its bar, stays clear of the legend (drawn at y=34).
    (total,) = [e for e in root.iter(f"{SVG}text") if e.text == str(busiest) and e.get("font-weight") == "600"]
    assert float(total.get("y")) >= 50


def test_the_response_time_axis_counts_whole_milliseconds():
    root = parse(response_time_chart(probes(1, 1, 1), START, END, "Response time"))

    assert y_tick_labels(root) == ["0 ms", "1 ms"]  # not "0.5 ms"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "no data"), (100, "100%"), (99.95, "99.9%"), (87.25, "87.2%"), (0, "0.0%")]
)
def test_percentages_are_never_rounded_up_to_a_perfect_score(value, expected):
    assert format_percent(value) == expected


def test_the_response_time_chart_has_a_title_axis_labels_and_a_summary():
    root = parse(response_time_chart(probes(4, 6, 12, 5), START, END, "Response time, last 24 hours"))

    assert root.find(f"{SVG}title").text == "Response time, last 24 hours"
    assert root.find(f"{SVG}desc").text == "4 checks, 0 failed, slowest 12 ms"
    assert root.get("role") == "img"
    labels = texts(root)
    assert "response time (ms)" in labels
    assert "time (UTC)" in labels
    assert "15 ms" in labels  # the axis maximum above the slowest check (12 ms)
    assert "12:00" in labels  # the end of the window


def test_failed_checks_are_drawn_as_marks_that_break_the_line():
    root = parse(response_time_chart(probes(4, 5, None, None, 6, 7), START, END, "Response time"))

    assert len(root.findall(f"{SVG}polyline")) == 2  # before and after the outage
    assert len(root.findall(f"{SVG}path")) == 2  # one "×" per failed check
    assert any("× failed check" in text for text in texts(root))
    assert "2 failed" in root.find(f"{SVG}desc").text


def test_the_slowest_check_touches_the_top_of_the_plot():
    root = parse(response_time_chart(probes(10, 20), START, END, "Response time"))

    (line,) = root.findall(f"{SVG}polyline")
    ys = [float(point.split(",")[1]) for point in line.get("points").split()]
    assert min(ys) == 40.0  # TOP: 20 ms is the axis maximum


def test_a_long_history_is_merged_into_a_bounded_number_of_points():
    start = END - timedelta(days=7)
    week = [Probe(start + timedelta(minutes=minute), True, 5 + minute % 3) for minute in range(7 * 24 * 60)]
    week[5000] = Probe(week[5000].checked_at, False, None)

    root = parse(response_time_chart(week, start, END, "Response time, last 7 days"))

    points = sum(len(line.get("points").split()) for line in root.findall(f"{SVG}polyline"))
    assert points <= MAX_LINE_POINTS
    assert len(root.findall(f"{SVG}path")) == 1  # the one failure survives the merge
    assert "10080 checks, 1 failed" in root.find(f"{SVG}desc").text


def test_an_empty_period_says_so_instead_of_drawing_axes():
    root = parse(response_time_chart([], START, END, "Response time"))

    assert texts(root).count("No checks in this period") == 1
    assert root.find(f"{SVG}polyline") is None


def test_text_is_escaped():
    svg = response_time_chart(probes(3), START, END, 'Prod <db> & "co"')

    root = parse(svg)
    assert root.find(f"{SVG}title").text == 'Prod <db> & "co"'
    assert "<db>" not in svg


def test_uptime_bars_carry_their_percentage_and_days_without_checks_say_no_data():
    days = [
        DayUptime(date(2024, 3, 8), 0, 0),
        DayUptime(date(2024, 3, 9), 144, 144),
        DayUptime(date(2024, 3, 10), 90, 100),
    ]

    root = parse(uptime_chart(days, "Uptime per day, last 7 days"))

    labels = texts(root)
    assert "no data" in labels
    assert "100%" in labels
    assert "90.0%" in labels
    assert "uptime (% of checks)" in labels
    assert len(root.findall(f"{SVG}rect")) == 2
    assert root.find(f"{SVG}desc").text == "95.9% of 244 checks healthy"


def test_executions_are_stacked_by_status_with_totals_and_a_hatched_failure():
    days = [date(2024, 3, 9), date(2024, 3, 10)]
    counts = {days[0]: {"completed": 3, "failed": 1}, days[1]: {"completed": 2}}

    root = parse(executions_chart(days, counts, "Executions per day"))

    labels = texts(root)
    assert "4" in labels and "2" in labels  # each day's total above its bar
    assert "failed (hatched)" in labels and "completed" in labels  # a legend in words
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        "2024-03-09: 3 completed",
        "2024-03-09: 1 failed",
        "2024-03-10: 2 completed",
    ]
    assert bars[1].get("fill") == "url(#rv-hatch)"
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[0] == pytest.approx(3 * heights[1], abs=0.2)  # drawn to 0.1 px
    assert root.find(f"{SVG}desc").text == "6 executions, 1 failed"


def test_a_quiet_fortnight_says_there_were_no_executions():
    root = parse(executions_chart([date(2024, 3, 10)], {}, "Executions per day"))

    assert texts(root).count("No executions in this period") == 1


def hours(count: int, start: datetime = START) -> list[datetime]:
    return [start + timedelta(hours=index) for index in range(count)]


def test_hourly_bars_say_their_total_and_peak_and_carry_their_numbers_when_they_fit():
    root = parse(hourly_chart(hours(24), [Series("queries", [10 * i for i in range(24)])], "Queries per hour", "q"))

    assert root.find(f"{SVG}title").text == "Queries per hour"
    assert "2,760 in all, peak 230 at" in root.find(f"{SVG}desc").text
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 23  # the empty first hour draws no bar
    assert bars[-1].find(f"{SVG}title").text.endswith(": 230 queries")
    assert "230" in texts(root)  # written on its bar


def test_hourly_numbers_that_would_overlap_are_left_to_the_tooltips():
    root = parse(hourly_chart(hours(24), [Series("buffers", [1234567] * 24)], "Buffers", "buffers"))

    assert "1.23M" not in texts(root)
    assert all(r.find(f"{SVG}title").text.endswith("1.23M buffers") for r in root.iter(f"{SVG}rect") if len(r))


def test_hourly_series_stack_with_a_legend_and_hatched_panics_get_a_pattern_of_their_own():
    series = [Series("ERROR", [1, 0, 2]), Series("FATAL", [0, 1, 1]), Series("PANIC", [0, 0, 1], HATCHED)]
    first = parse(hourly_chart(hours(3), series, "Errors per hour", "errors"))
    second = parse(hourly_chart(hours(3), series, "Errors per 2 hours", "errors"))

    assert {"ERROR", "FATAL", "PANIC (hatched)"} <= set(texts(first))
    patterns = [p.get("id") for root in (first, second) for p in root.iter(f"{SVG}pattern")]
    assert len(patterns) == 2 and len(set(patterns)) == 2
    assert any(r.get("fill") == f"url(#{patterns[0]})" for r in first.iter(f"{SVG}rect"))


def test_a_month_of_hours_stays_a_bounded_chart():
    svg = hourly_chart(hours(744), [Series("queries", [5000] * 744)], "Queries per hour", "queries")

    assert len(svg) < 200_000
    assert len([e for e in parse(svg).iter(f"{SVG}text") if e.text and e.text.startswith("Nov")]) <= 6


def test_an_hourly_chart_with_nothing_says_so():
    assert "Nothing in this period" in texts(parse(hourly_chart(hours(3), [Series("q", [0, 0, 0])], "Q", "q")))
    assert "Nothing in this period" in texts(parse(hourly_chart([], [Series("q", [])], "Q", "q")))


@pytest.mark.parametrize(
    ("value", "shown"), [(0, "0"), (12, "12"), (1234, "1,234"), (56789, "56,789"), (123456, "123k"), (2.4e6, "2.4M")]
)
def test_compact_numbers(value, shown):
    assert compact_number(value) == shown
