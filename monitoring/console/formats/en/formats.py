"""Dates in the console: one 24-hour form in UTC, "2026-11-29 00:24 UTC", everywhere.

Django's own English formats ("Nov. 29, 2026, 12:30 a.m.") win over the DATETIME_FORMAT
setting, so the admin's list columns and read-only fields would keep them: a format module
is the only place that overrides them. The same form is written by
monitoring.console.dates.console_time (templates and Python) and by tasks.timestamps.utc_text
(finding messages); a test holds the three together. Input formats are Django's (unchanged).
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i"
