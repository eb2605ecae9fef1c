"""One 24-hour UTC form in the whole console, and relative times a person reads naturally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils.formats import date_format, localize
from django.utils.html import strip_tags

from monitoring.console.dates import ago, console_time, lasting, until
from monitoring.console.kit import short_time
from tasks.models import TaskExecution
from tasks.tests.factories import TaskExecutionFactory
from tasks.timestamps import utc_text

MOMENT = datetime(2026, 11, 29, 0, 24, 5, tzinfo=UTC)
NOW = MOMENT + timedelta(hours=2)


def render(source: str, **context) -> str:
    return Template("{% load console %}" + source).render(Context(context))


def test_the_console_form_is_24_hour_utc_and_agrees_with_the_admins_and_the_findings():
    assert console_time(MOMENT) == "2026-11-29 00:24 UTC"
    assert console_time(MOMENT, seconds=True) == short_time(MOMENT) == "2026-11-29 00:24:05 UTC"
    # The admin's list columns and read-only fields, and finding messages, say the same.
    assert localize(MOMENT) == date_format(MOMENT, "DATETIME_FORMAT") == console_time(MOMENT)
    assert utc_text(MOMENT) == console_time(MOMENT)
    # Half past noon is 12:30, not "p.m."; another zone is written in UTC.
    afternoon = datetime(2026, 11, 29, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    assert console_time(afternoon) == "2026-11-29 12:30 UTC"
    assert console_time(None) == short_time(None) == "-"


def test_under_a_minute_ago_is_just_now():
    assert ago(NOW - timedelta(seconds=59), NOW) == "just now"
    assert ago(NOW + timedelta(seconds=3), NOW) == "just now"  # a clock slightly ahead
    assert ago(NOW - timedelta(minutes=1), NOW) == "1\xa0minute ago"
    assert ago(NOW - timedelta(hours=2, minutes=5), NOW) == "2\xa0hours, 5\xa0minutes ago"


def test_lasting_and_until_never_say_zero_minutes():
    assert lasting(NOW - timedelta(seconds=20), NOW) == "under a minute"
    assert lasting(NOW - timedelta(hours=2), NOW) == "2\xa0hours"
    assert until(NOW + timedelta(seconds=30), NOW) == "due now"
    assert until(NOW - timedelta(minutes=5), NOW) == "due now"
    assert until(NOW + timedelta(minutes=5), NOW) == "in 5\xa0minutes"


def test_the_template_filters():
    both = render("{{ t|utc }} / {{ t|utc:'seconds' }}", t=MOMENT)
    assert both == "2026-11-29 00:24 UTC / 2026-11-29 00:24:05 UTC"
    assert render("{{ t|ago:now }}", t=NOW, now=NOW) == "just now"
    assert render("{{ t|ago:now }}", t=MOMENT, now=NOW) == "2\xa0hours ago"
    assert render("for {{ t|lasting:now }}; {{ t|until:now }}", t=NOW, now=NOW) == "for under a minute; due now"
    cell = render("{{ t|utc:'cell' }}", t=MOMENT)
    assert cell == '<span class="rv-nowrap">2026-11-29</span> <span class="rv-nowrap">00:24 UTC</span>'
    cell = render("{{ t|utc:'cell,seconds' }}", t=MOMENT)
    assert cell == '<span class="rv-nowrap">2026-11-29</span> <span class="rv-nowrap">00:24:05 UTC</span>'
    # No time: empty, so that |default can say so.
    assert render("{{ t|utc|default:'never' }} {{ t|ago:now|default:'-' }}", t=None, now=NOW) == "never -"


@pytest.mark.django_db
def test_the_admin_lists_and_record_pages_show_the_same_form(admin_client):
    execution = TaskExecutionFactory(status="completed", duration_seconds=1.5)
    TaskExecution.objects.filter(pk=execution.pk).update(
        created_at=MOMENT, started_at=MOMENT, completed_at=MOMENT + timedelta(hours=12, minutes=6)
    )
    listed = strip_tags(admin_client.get(reverse("admin:tasks_taskexecution_changelist")).content.decode())
    record = admin_client.get(reverse("admin:tasks_taskexecution_change", args=[execution.pk])).content.decode()
    for page in (listed, strip_tags(record)):
        assert "2026-11-29 00:24 UTC" in page
        assert "2026-11-29 12:30 UTC" in page
        assert "a.m." not in page and "p.m." not in page and "Nov. 29" not in page
    # In a list, a narrow column wraps between the day and the clock, never inside the day.
    assert '<span class="rv-nowrap">2026-11-29</span> <span class="rv-nowrap">12:30 UTC</span>' in (
        admin_client.get(reverse("admin:tasks_taskexecution_changelist")).content.decode()
    )
