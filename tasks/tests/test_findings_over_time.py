"""A problem that consecutive runs see is one finding: updated while seen, resolved when a run
that looked no longer sees it, open again when it comes back."""

from __future__ import annotations

import pytest

from connections.tests.factories import ConnectionFactory
from tasks.findings import Coverage, Observed, record_findings
from tasks.models import Finding, Sighting
from tasks.tests.factories import TaskExecutionFactory, TaskFactory

pytestmark = pytest.mark.django_db

INDEXES = {"shop": {"duplicate_index", "unused_index"}}


def seen(subject: str, category: str = "duplicate_index", database: str = "shop", **fields) -> Observed:
    values = {"severity": "warning", "message": f"{subject} is redundant", "database": database}
    return Observed(category=category, subject=subject, identity=(database,), **{**values, **fields})


@pytest.fixture
def task():
    return TaskFactory(task_type="health_check")


def run(task, observed, coverage=INDEXES):
    execution = TaskExecutionFactory(task=task)
    looked = Coverage()
    for database, categories in coverage.items():
        for category in categories:
            looked.add(category, database)
    return execution, record_findings(execution, observed, looked)


def test_consecutive_runs_update_one_finding(task):
    first, recorded = run(task, [seen("public.a_idx"), seen("public.b_idx")])
    assert (recorded.opened, recorded.updated, recorded.resolved) == (2, 0, 0)
    second, recorded = run(task, [seen("public.a_idx", message="still redundant")])
    assert (recorded.opened, recorded.updated, recorded.resolved) == (0, 1, 1)

    a = Finding.objects.get(subject="public.a_idx")
    b = Finding.objects.get(subject="public.b_idx")
    assert Finding.objects.count() == 2
    assert (a.state, a.execution_id, a.message, a.resolved_at) == ("open", second.id, "still redundant", None)
    assert a.first_seen <= first.created_at or a.first_seen < a.last_seen
    assert (b.state, b.execution_id) == ("resolved", first.id)
    assert b.resolved_at is not None
    assert list(Sighting.objects.filter(execution=first).values_list("finding__subject", flat=True).order_by("id")) == [
        "public.a_idx",
        "public.b_idx",
    ]
    assert [s.message for s in Sighting.objects.filter(execution=second)] == ["still redundant"]


def test_a_problem_that_comes_back_opens_again(task):
    run(task, [seen("public.a_idx")])
    run(task, [])
    _, recorded = run(task, [seen("public.a_idx")])

    assert recorded.opened == 1
    [finding] = Finding.objects.all()
    assert (finding.state, finding.resolved_at) == ("open", None)
    assert finding.sightings.count() == 2


def test_a_run_resolves_only_what_it_looked_at(task):
    run(task, [seen("public.a_idx"), seen("public.a_idx", database="crm"), seen("x", category="blocked_query")])
    # A review of `shop`'s indexes only: crm's finding and the activity finding stay open.
    run(task, [], coverage=INDEXES)

    states = dict(Finding.objects.values_list("database", "state").filter(category="duplicate_index"))
    assert states == {"shop": "resolved", "crm": "open"}
    assert Finding.objects.get(category="blocked_query").state == "open"


def test_the_same_subject_in_two_databases_is_two_findings(task):
    run(task, [seen("public.a_idx"), seen("public.a_idx", database="crm")])
    assert Finding.objects.filter(state="open").count() == 2


def test_findings_are_per_connection(task):
    other = TaskFactory(connection=ConnectionFactory(name="other"))
    run(task, [seen("public.a_idx")])
    run(other, [seen("public.a_idx")])
    run(task, [])

    assert dict(Finding.objects.values_list("connection_id", "state")) == {
        task.connection_id: "resolved",
        other.connection_id: "open",
    }


def test_one_problem_reported_twice_in_a_run_is_one_finding_with_both_counts(task):
    _, recorded = run(task, [seen("public.a_idx", count=2), seen("public.a_idx", count=3)])
    assert recorded.opened == 1
    assert Finding.objects.get().count == 5
