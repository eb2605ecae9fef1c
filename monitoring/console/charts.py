"""Server-side SVG charts for the staff pages: no JavaScript, no chart library, no CDN.

Each function takes plain data and returns one self-contained <svg> element. Every chart
carries a title (visible and as <title> for screen readers), axis labels and text labels on
the marks, so it reads without colour: failed checks are drawn as "×" marks, failed
executions are hatched, and every bar has its number written on it.

Colours are written as attributes (a chart saved on its own reads on white) and tagged with
classes (rv-ink, rv-muted, rv-grid, rv-line, rv-gap) that the console's stylesheet
(templates/admin/base_site.html) recolours for the dark scheme. Axes that count things
(executions, whole milliseconds) have whole-number ticks only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 40, 46
MAX_LINE_POINTS = 240  # more points than this are merged per time slot: the plot is ~570 px wide

HEALTHY = "#2e7d32"
UNHEALTHY = "#c62828"
AMBER = "#ef6c00"
LINE = "#1565c0"
INK = "#333"
MUTED = "#767676"
GRID = "#e3e3e3"

# Stacking order of execution statuses, bottom to top, with their fills.
STATUS_FILLS = {
    "completed": HEALTHY,
    "failed": "url(#rv-hatch)",
    "running": "#1565c0",
    "pending": "#9e9e9e",
}


@dataclass(frozen=True)
class Probe:
    """One health check, as the response-time chart needs it."""

    checked_at: datetime
    is_healthy: bool
    response_time_ms: int | None


@dataclass(frozen=True)
class DayUptime:
    """The checks of one day: how many, and how many were healthy."""

    day: date
    healthy: int
    total: int

    @property
    def percent(self) -> float | None:
        return None if not self.total else 100.0 * self.healthy / self.total


def format_percent(value: float | None) -> str:
    """99.95 reads "99.9%", never "100%": a rounded-up outage would hide it."""
    if value is None:
        return "no data"
    if value >= 100:
        return "100%"
    return f"{math.floor(value * 10) / 10:.1f}%"


def count_of(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def whole_ticks(largest: float, intervals: int = 4) -> list[int]:
    """Whole-number axis ticks from 0 up to at or above `largest`, at most `intervals` apart,
    in steps of 1, 2 or 5 times a power of ten: a count of 5 is drawn on 0, 2, 4, 6, never
    on a "2.5" that no count can be. The last tick is the axis maximum."""
    if largest <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            count = math.ceil(largest / step)
            if count <= intervals:
                return [step * index for index in range(count + 1)]
        magnitude *= 10


_TEXT_CLASSES = {INK: "rv-ink", MUTED: "rv-muted"}  # text that follows the page's colours


def _text(
    x: float, y: float, content: str, size: int = 11, anchor: str = "start", fill: str = INK, **attrs: str
) -> str:
    if fill in _TEXT_CLASSES:
        attrs = {"class": _TEXT_CLASSES[fill], **attrs}
    extra = "".join(f' {key.replace("_", "-")}="{escape(value)}"' for key, value in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{escape(content)}</text>"
    )


def _open(title: str, summary: str, height: int = HEIGHT, show_summary: bool = True) -> list[str]:
    """The root element, the accessible title and description, the visible title and summary."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}: {escape(summary)}" class="rv-chart" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(summary)}</desc>",
        _text(LEFT, 16, title, size=13, font_weight="600"),
    ]
    if show_summary:
        parts.append(_text(WIDTH - RIGHT, 16, summary, anchor="end", fill=MUTED))
    return parts


def _close(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    # Every piece of text above went through escape(): the markup is ours.
    return mark_safe("".join(parts))


def _empty(title: str, message: str, height: int = HEIGHT) -> SafeString:
    parts = _open(title, message, height, show_summary=False)
    parts.append(_text(WIDTH / 2, height / 2, message, size=12, anchor="middle", fill=MUTED))
    return _close(parts)


def _y_axis(
    parts: list[str], ticks: Sequence[float], label: str, unit: str = "", height: int = HEIGHT, fmt=None
) -> None:
    """A grid line at each tick with its value (the last tick is the top of the plot), and the
    rotated axis label. `fmt` writes a tick's value (default: as short as it reads)."""
    bottom = height - BOTTOM
    for value in ticks:
        y = bottom - (bottom - TOP) * value / ticks[-1]
        shown = f"{fmt(value) if fmt else f'{value:g}'}{unit}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" class="rv-grid"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, shown, size=10, anchor="end", fill=MUTED))
    middle = (TOP + bottom) / 2
    parts.append(
        _text(14, middle, label, size=10, anchor="middle", fill=MUTED, transform=f"rotate(-90 14 {middle:.1f})")
    )


def _x_label(parts: list[str], label: str, height: int = HEIGHT) -> None:
    parts.append(_text((LEFT + WIDTH - RIGHT) / 2, height - 6, label, size=10, anchor="middle", fill=MUTED))


def _slots(points: Sequence[Probe], start: datetime, end: datetime) -> list[tuple[datetime, int | None, bool]]:
    """Merge checks into at most MAX_LINE_POINTS time slots: the slowest healthy response of
    each slot (a spike must stay visible) and whether any check in it failed."""
    if len(points) <= MAX_LINE_POINTS:
        return [(p.checked_at, p.response_time_ms if p.is_healthy else None, not p.is_healthy) for p in points]
    span = (end - start) / MAX_LINE_POINTS
    slots: dict[int, list[Probe]] = {}
    for point in points:
        index = min(MAX_LINE_POINTS - 1, max(0, int((point.checked_at - start) / span)))
        slots.setdefault(index, []).append(point)
    merged = []
    for index in sorted(slots):
        group = slots[index]
        times = [p.response_time_ms for p in group if p.is_healthy and p.response_time_ms is not None]
        failed = any(not p.is_healthy for p in group)
        merged.append((start + span * (index + 0.5), max(times) if times else None, failed))
    return merged


def response_time_chart(points: Sequence[Probe], start: datetime, end: datetime, title: str) -> SafeString:
    """Response time of each check over [start, end] as a line; failed checks as "×" marks
    on the baseline, the line broken where they happened."""
    points = sorted((p for p in points if start <= p.checked_at <= end), key=lambda p: p.checked_at)
    if not points:
        return _empty(title, "No checks in this period")
    healthy_times = [p.response_time_ms for p in points if p.is_healthy and p.response_time_ms is not None]
    failures = sum(1 for p in points if not p.is_healthy)
    summary = f"{count_of(len(points), 'check')}, {failures} failed"
    if healthy_times:
        summary += f", slowest {max(healthy_times)} ms"
    ticks = whole_ticks(max(healthy_times, default=1))  # response times are whole milliseconds
    maximum = ticks[-1]
    bottom, plot_width = HEIGHT - BOTTOM, WIDTH - LEFT - RIGHT
    seconds = max((end - start).total_seconds(), 1)

    def x(moment: datetime) -> float:
        return LEFT + plot_width * (moment - start).total_seconds() / seconds

    def y(ms: float) -> float:
        return bottom - (bottom - TOP) * ms / maximum

    parts = _open(title, summary)
    _y_axis(parts, ticks, "response time (ms)", " ms")
    _time_ticks(parts, start, end, x)
    _x_label(parts, "time (UTC)")

    runs: list[list[str]] = [[]]
    marks = []
    for moment, ms, failed in _slots(points, start, end):
        if failed:
            marks.append(moment)
        if ms is None:
            runs.append([])  # a failure breaks the line
            continue
        runs[-1].append(f"{x(moment):.1f},{y(ms):.1f}")
    for run in runs:
        if len(run) == 1:
            cx, cy = run[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{LINE}" class="rv-line"/>')
        elif run:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" stroke-width="1.6" class="rv-line"/>'
            )
    for moment in marks:
        mx, my = x(moment), bottom - 6
        parts.append(
            f'<path d="M{mx - 4:.1f},{my - 4:.1f}L{mx + 4:.1f},{my + 4:.1f}M{mx - 4:.1f},{my + 4:.1f}'
            f'L{mx + 4:.1f},{my - 4:.1f}" stroke="{UNHEALTHY}" stroke-width="2"/>'
        )
    parts.append(_text(LEFT + 4, TOP - 6, "— response time   × failed check", size=10, fill=MUTED))
    return _close(parts)


def _time_ticks(parts: list[str], start: datetime, end: datetime, x) -> None:
    """Five time labels along the x axis: clock times within a day, weekdays beyond."""
    pattern = "%H:%M" if end - start <= timedelta(days=1) else "%a %d"
    for step in range(5):
        moment = start + (end - start) * step / 4
        anchor = "start" if step == 0 else "end" if step == 4 else "middle"
        parts.append(_text(x(moment), HEIGHT - BOTTOM + 15, moment.strftime(pattern), size=10, anchor=anchor))


def uptime_chart(days: Sequence[DayUptime], title: str) -> SafeString:
    """Uptime % per day as bars, each with its percentage written above it."""
    if not any(day.total for day in days):
        return _empty(title, "No checks in this period")
    checks = sum(day.total for day in days)
    healthy = sum(day.healthy for day in days)
    summary = f"{format_percent(100.0 * healthy / checks)} of {count_of(checks, 'check')} healthy"
    bottom, plot_width = HEIGHT - BOTTOM, WIDTH - LEFT - RIGHT
    slot = plot_width / len(days)
    parts = _open(title, summary)
    _y_axis(parts, (0, 50, 100), "uptime (% of checks)", "%")
    _x_label(parts, "day (UTC)")
    for index, day in enumerate(days):
        centre = LEFT + slot * (index + 0.5)
        label = format_percent(day.percent)
        parts.append(_text(centre, bottom + 15, day.day.strftime("%a %d"), size=10, anchor="middle"))
        if day.percent is None:
            parts.append(_text(centre, bottom - 4, label, size=10, anchor="middle", fill=MUTED))
            continue
        top = bottom - (bottom - TOP) * day.percent / 100
        fill = HEALTHY if day.percent >= 99.9 else AMBER if day.percent >= 99 else UNHEALTHY
        parts.append(
            f'<rect x="{centre - slot * 0.3:.1f}" y="{top:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{bottom - top:.1f}" fill="{fill}"><title>{escape(day.day.isoformat())}: {label} '
            f"({day.healthy}/{day.total} checks healthy)</title></rect>"
        )
        # Above the bar, or inside its top in white when a full bar leaves no room above.
        above = top - 4 >= TOP + 6
        y, ink = (top - 4, INK) if above else (top + 13, "#fff")
        parts.append(_text(centre, y, label, size=10, anchor="middle", fill=ink, font_weight="600"))
    return _close(parts)


def executions_chart(days: Sequence[date], counts: Mapping[date, Mapping[str, int]], title: str) -> SafeString:
    """Executions per day as bars stacked by status, the day's total written above each bar.

    Failed runs are hatched and the legend names every status, so the chart does not rely
    on telling red from green.
    """
    total = sum(sum(counts.get(day, {}).values()) for day in days)
    if not total:
        return _empty(title, "No executions in this period")
    failed = sum(counts.get(day, {}).get("failed", 0) for day in days)
    summary = f"{count_of(total, 'execution')}, {failed} failed"
    busiest = max(sum(counts.get(day, {}).values()) for day in days)
    # Headroom above the busiest day, so that its total written above the bar clears the legend.
    ticks = whole_ticks(busiest * 1.15)
    maximum = ticks[-1]
    bottom, plot_width = HEIGHT - BOTTOM, WIDTH - LEFT - RIGHT
    slot = plot_width / len(days)
    parts = _open(title, summary)
    parts.append(
        '<defs><pattern id="rv-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{UNHEALTHY}"/><line x1="0" y1="0" x2="0" y2="6" '
        'stroke="#fff" stroke-width="2.5" class="rv-gap"/></pattern></defs>'
    )
    _y_axis(parts, ticks, "executions")
    _x_label(parts, "day (UTC)")
    label_every = max(1, math.ceil(len(days) / 14))
    for index, day in enumerate(days):
        centre = LEFT + slot * (index + 0.5)
        if index % label_every == 0:
            parts.append(_text(centre, bottom + 15, day.strftime("%b %d"), size=9, anchor="middle"))
        by_status = counts.get(day, {})
        base = bottom
        for status, fill in STATUS_FILLS.items():
            count = by_status.get(status, 0)
            if not count:
                continue
            height = (bottom - TOP) * count / maximum
            base -= height
            parts.append(
                f'<rect x="{centre - slot * 0.32:.1f}" y="{base:.1f}" width="{slot * 0.64:.1f}" '
                f'height="{height:.1f}" fill="{fill}"><title>{escape(day.isoformat())}: {count} {status}</title></rect>'
            )
        day_total = sum(by_status.values())
        if day_total:
            parts.append(_text(centre, base - 4, str(day_total), size=10, anchor="middle", font_weight="600"))
    _legend(parts)
    return _close(parts)


def _legend(parts: list[str]) -> None:
    x = LEFT + 4
    for status, fill in STATUS_FILLS.items():
        parts.append(f'<rect x="{x}" y="{TOP - 15}" width="10" height="10" fill="{fill}"/>')
        name = f"{status} (hatched)" if status == "failed" else status
        parts.append(_text(x + 14, TOP - 6, name, size=10))
        x += 24 + 6.2 * len(name)


@dataclass(frozen=True)
class Series:
    """One kind of bar in an hourly chart: its name in the legend, a value per bucket, its fill."""

    label: str
    values: Sequence[float]
    fill: str = LINE


def compact_number(value: float) -> str:
    """12, 1,234, 56.7k, 2.4M: a count short enough for an axis or a bar."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 100_000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.3g}"


def hourly_chart(
    starts: Sequence[datetime],
    series: Sequence[Series],
    title: str,
    y_label: str,
    *,
    bucket_hours: int = 1,
    stacked: bool = True,
    unit: str = "",
) -> SafeString:
    """Bars per time bucket (an hour, or `bucket_hours`), one colour per series, stacked or
    side by side. Each bar says its time and value in a tooltip; the values are written on
    the bars while there is room for all of them (a day of hours, mostly), and the summary
    gives the total and the peak, so a long log reads as well."""
    count = len(starts)
    totals = [sum(s.values[index] for s in series) for index in range(count)]
    if not count or not any(totals):
        return _empty(title, "Nothing in this period")
    heights = totals if stacked else [max(s.values[index] for s in series) for index in range(count)]
    peak = max(range(count), key=lambda index: totals[index])
    same_day = starts[0].date() == starts[-1].date()
    summary = (
        f"{compact_number(sum(totals))}{unit} in all, peak {compact_number(totals[peak])}{unit} "
        f"at {starts[peak].strftime('%H:00' if same_day else '%b %d %H:00')}"
    )
    ticks = whole_ticks(max(heights) * 1.15)  # headroom for the numbers above the bars
    maximum = ticks[-1]
    bottom, plot_width = HEIGHT - BOTTOM, WIDTH - LEFT - RIGHT
    slot = plot_width / count
    parts = _open(title, summary)
    # A page shows several charts: each names its own hatch pattern.
    hatch = "rv-hatch-" + hashlib.sha1(title.encode()).hexdigest()[:8]
    fills = {one.label: f"url(#{hatch})" if one.fill == HATCHED else one.fill for one in series}
    if HATCHED in (one.fill for one in series):
        parts.append(
            f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)">'
            f'<rect width="6" height="6" fill="{UNHEALTHY}"/><line x1="0" y1="0" x2="0" y2="6" '
            'stroke="#fff" stroke-width="2.5" class="rv-gap"/></pattern></defs>'
        )
    _y_axis(parts, ticks, y_label, fmt=compact_number)
    _x_label(parts, "hour (UTC)" if same_day else "day and hour (UTC)")
    label_every = max(1, math.ceil(count / (10 if same_day else 5)))
    # Numbers on the bars only if every one of them fits its bar's slot (about 5 px a
    # character at this size).
    widest = max(len(compact_number(v)) for v in (totals if stacked else [v for s in series for v in s.values]))
    show_values = widest * 5.2 <= (slot if stacked else slot * 0.8 / len(series))
    for index, start in enumerate(starts):
        centre = LEFT + slot * (index + 0.5)
        if index % label_every == 0:
            text = start.strftime("%H:00" if same_day else "%b %d %H:00")
            parts.append(_text(centre, bottom + 15, text, size=9, anchor="middle"))
        when = f"{start.strftime('%Y-%m-%d %H:00')} UTC"
        if stacked:
            width, base = max(slot * 0.7, 1.0), bottom
            for one in series:
                value = one.values[index]
                if not value:
                    continue
                height = (bottom - TOP) * value / maximum
                base -= height
                parts.append(
                    f'<rect x="{centre - width / 2:.1f}" y="{base:.1f}" width="{width:.1f}" height="{height:.1f}" '
                    f'fill="{fills[one.label]}"><title>{escape(when)}: {compact_number(value)} {escape(one.label)}</title></rect>'
                )
            if show_values and totals[index]:
                parts.append(_text(centre, base - 4, compact_number(totals[index]), size=9, anchor="middle"))
        else:
            width = max(slot * 0.8 / len(series), 1.0)
            for offset, one in enumerate(series):
                value = one.values[index]
                x = centre - slot * 0.4 + width * offset
                height = (bottom - TOP) * value / maximum
                if value:
                    parts.append(
                        f'<rect x="{x:.1f}" y="{bottom - height:.1f}" width="{width:.1f}" height="{height:.1f}" '
                        f'fill="{fills[one.label]}"><title>{escape(when)}: {compact_number(value)} {escape(one.label)}</title>'
                        "</rect>"
                    )
                if show_values and value:
                    parts.append(
                        _text(x + width / 2, bottom - height - 4, compact_number(value), size=9, anchor="middle")
                    )
    if len(series) > 1:
        x = LEFT + 4
        for one in series:
            parts.append(f'<rect x="{x}" y="{TOP - 15}" width="10" height="10" fill="{fills[one.label]}"/>')
            name = f"{one.label} (hatched)" if one.fill == HATCHED else one.label
            parts.append(_text(x + 14, TOP - 6, name, size=10))
            x += 24 + 6.2 * len(name)
    return _close(parts)


HATCHED = "hatched"  # a Series fill: red with white stripes, told apart without colour
