"""Findings tracked across runs (2 of 3: the data).

Existing rows were one per run. Each becomes a sighting; rows of one connection with the same
problem merge into the newest, which stays open when the newest run of its task saw it and is
resolved otherwise.
"""

import hashlib
import re

from django.db import migrations

# The subject a log finding of each category is known by (tasks/logs/detectors.py).
SUBJECT_DETAIL = {
    "slow_query": "query",
    "statement_timeout": "query",
    "lock_timeout": "query",
    "error": "sqlstate",
    "fatal": "sqlstate",
    "autovacuum_cancelled": "table",
}


def problem_key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


# Subjects that only the message holds.
SUBJECT_IN_MESSAGE = {
    "panic": re.compile(r"PANIC: (.*)", re.S),
    "connection_slots": re.compile(r"connection\(s\) refused: (.*)", re.S),
    "data_corruption": re.compile(r"\d+ × (.*): data corruption"),
    "wraparound": re.compile(r"for database (.*): vacuum it now"),
}


def old_subject(row) -> str:
    details = row.details or {}
    if row.category == "auth_failure":
        return f"{details.get('user', '')}@{details.get('client', '')}"
    if row.category == "autovacuum_slow":
        kind = "analyze" if row.message.startswith("automatic analyze") else "vacuum"
        return f"{details.get('table', '')} ({kind})"
    if row.category in SUBJECT_IN_MESSAGE:
        match = SUBJECT_IN_MESSAGE[row.category].search(row.message)
        return match.group(1) if match else ""
    return str(details.get(SUBJECT_DETAIL.get(row.category, ""), ""))


def forwards(apps, schema_editor):
    Finding = apps.get_model("tasks", "Finding")
    Sighting = apps.get_model("tasks", "Sighting")
    TaskExecution = apps.get_model("tasks", "TaskExecution")
    copied = ("severity", "message", "count", "first_seen", "last_seen", "sample", "database", "user", "details")
    newest: dict[tuple[int, str], object] = {}
    merged: list[int] = []
    for row in Finding.objects.select_related("execution").order_by("id").iterator(chunk_size=2000):
        subject = old_subject(row)
        key = problem_key(row.category, subject)
        Sighting.objects.create(
            execution_id=row.execution_id, finding_id=row.id, **{f: getattr(row, f) for f in copied}
        )
        earlier = newest.get((row.connection_id, key))
        if earlier is not None:
            Sighting.objects.filter(finding_id=earlier.id).update(finding_id=row.id)
            row.first_seen = min(filter(None, (earlier.first_seen, row.first_seen)), default=None)
            merged.append(earlier.id)
        row.subject, row.key, row.task_id = subject[:500], key, row.execution.task_id
        newest[(row.connection_id, key)] = row
    Finding.objects.filter(id__in=merged).delete()
    latest_run = {}
    for row in newest.values():
        if row.task_id not in latest_run:
            latest_run[row.task_id] = (
                TaskExecution.objects.filter(task_id=row.task_id, status="completed").order_by("-id").first()
            )
        latest = latest_run[row.task_id]
        if latest is None or latest.id != row.execution_id:
            row.state = "resolved"
            row.resolved_at = (latest.completed_at if latest else None) or row.execution.completed_at
        row.save(update_fields=["subject", "key", "task", "first_seen", "state", "resolved_at"])


class Migration(migrations.Migration):
    dependencies = [("tasks", "0004_findings_over_time")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
