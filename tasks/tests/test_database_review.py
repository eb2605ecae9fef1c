"""database_review end to end: a real worker reviews a throwaway cluster as a role that has
only pg_monitor, and the findings are read back through the API."""

from __future__ import annotations

import time

import psycopg
import pytest

from monitoring.tests.conftest import API, client_for
from tasks.models import ExecutionStatus, TaskExecution
from tasks.reviews.database.catalog import CHECKS
from tasks.runner import start_execution
from tasks.tests.factories import TaskFactory
from testing.pg_cluster import PgCluster
from testing.wait import wait_for
from testing.worker import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster().start()
    cluster.execute(f"CREATE ROLE watcher LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    for name in ("shop", "crm"):
        cluster.execute(f"CREATE DATABASE {name}")
        cluster.execute("CREATE TABLE orders (id int, customer int); INSERT INTO orders VALUES (1, 1), (1, 2)", name)
    yield cluster
    cluster.stop()


@pytest.fixture
def review_worker(transactional_db, cluster):
    proc = WorkerProcess(extra_env={"PGPASSWORD": cluster.superuser_password}).start()
    yield proc
    proc.stop()


@pytest.fixture
def api(transactional_db):
    from django.contrib.auth.models import User

    return client_for(User.objects.create_user("reader"))


def failed_unique_index(cluster: PgCluster, database: str, name: str) -> None:
    """What a failed CREATE UNIQUE INDEX CONCURRENTLY leaves behind: an invalid index."""
    with pytest.raises(psycopg.errors.UniqueViolation):
        cluster.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON orders (id)", database)


def review(task) -> TaskExecution:
    execution = start_execution(task)
    done = wait_for(lambda: (e := TaskExecution.objects.get(pk=execution.id)).is_finished and e, timeout=120)
    assert done.status == ExecutionStatus.COMPLETED, done.error_message
    return done


def review_task(cluster, **config):
    return TaskFactory(
        task_type="database_review",
        connection__port=cluster.port,
        connection__database="shop",
        connection__username="watcher",
        config=config,
    )


def open_findings(api, task) -> dict[tuple[str, str, str], dict]:
    items = api.get(f"{API}/findings", {"task_id": task.id, "state": "open", "limit": 500}).json()
    return {(item["database"], item["category"], item["subject"]): item for item in items}


def test_a_fixed_problem_is_resolved_and_the_others_stay_open(cluster, review_worker, api):
    failed_unique_index(cluster, "shop", "orders_id_key")
    failed_unique_index(cluster, "shop", "orders_id_key2")
    task = review_task(cluster, checks=["invalid_index"])

    first = review(task)
    found = open_findings(api, task)
    assert {key for key in found if key[1] == "invalid_index"} == {
        ("shop", "invalid_index", "public.orders_id_key"),
        ("shop", "invalid_index", "public.orders_id_key2"),
    }
    assert first.result["opened"] == 2
    assert found["shop", "invalid_index", "public.orders_id_key"]["remedy"].startswith("DROP INDEX CONCURRENTLY")

    cluster.execute("DROP INDEX orders_id_key", "shop")
    second = review(task)

    assert (second.result["opened"], second.result["resolved"]) == (0, 1)
    assert set(open_findings(api, task)) == {("shop", "invalid_index", "public.orders_id_key2")}
    [resolved] = api.get(f"{API}/findings", {"task_id": task.id, "state": "resolved"}).json()
    assert (resolved["subject"], resolved["execution_id"]) == ("public.orders_id_key", first.id)
    assert resolved["resolved_at"] is not None
    # What the first run saw stays visible, under the same finding ids.
    seen_first = api.get(f"{API}/tasks/executions/{first.id}/findings").json()
    assert {item["subject"] for item in seen_first} == {"public.orders_id_key", "public.orders_id_key2"}
    cluster.execute("DROP INDEX orders_id_key2", "shop")


def test_databases_all_reviews_each_database(cluster, review_worker, api):
    failed_unique_index(cluster, "shop", "shop_broken")
    failed_unique_index(cluster, "crm", "crm_broken")
    task = review_task(cluster, databases="all", checks=["invalid_index"])

    done = review(task)

    assert {"shop", "crm", "postgres"} <= set(done.result["databases"])
    assert done.result["databases"]["crm"] == {"checks_run": 1, "issues_found": 1, "checks_skipped": 0}
    assert set(open_findings(api, task)) == {
        ("shop", "invalid_index", "public.shop_broken"),
        ("crm", "invalid_index", "public.crm_broken"),
    }
    cluster.execute("DROP INDEX shop_broken", "shop")
    cluster.execute("DROP INDEX crm_broken", "crm")


def test_a_database_that_cannot_be_reached_fails_the_run_with_the_reason(cluster, review_worker):
    task = review_task(cluster, databases=["nowhere"])

    execution = start_execution(task)
    done = wait_for(lambda: (e := TaskExecution.objects.get(pk=execution.id)).is_finished and e, timeout=120)

    assert done.status == ExecutionStatus.FAILED
    assert 'database "nowhere" does not exist' in done.error_message
    assert cluster.superuser_password not in done.error_message


def test_a_pg_monitor_role_runs_every_check_and_skipped_ones_name_their_grant(cluster, review_worker, api):
    task = review_task(cluster)

    done = review(task)

    result = done.result
    skipped = {item["check"]: item for item in result["checks_skipped"]}
    hba_grant = "GRANT SELECT ON pg_hba_file_rules TO watcher; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO watcher"
    assert skipped["hba_trust"]["grant"] == hba_grant
    assert skipped["hba_cleartext_password"]["grant"] == hba_grant
    assert "pg_hba_file_rules" in skipped["hba_trust"]["reason"]
    assert all(item.get("grant") for item in skipped.values()), skipped
    assert result["checks_run"] + result["checks_skipped_total"] == len(task.review_config()["checks"] or CHECKS)
    assert result["issues_found"] == len(open_findings(api, task))
    assert set(skipped) == {"hba_trust", "hba_cleartext_password", "hba_file_error"}
    assert result["checks_run"] == len(CHECKS) - 3
    # PgCluster runs with fsync off: a real, critical finding, seen by a pg_monitor role too.
    fsync = open_findings(api, task)["", "risky_setting", "fsync"]
    assert fsync["severity"] == "critical"
    assert fsync["remedy"].startswith("ALTER SYSTEM SET fsync = on;")


def test_a_table_locked_by_a_migration_skips_only_the_check_that_needs_it(cluster, review_worker, api):
    """A migration holds ACCESS EXCLUSIVE on a table for the whole review. The check that must
    measure that table (missing_fk_index sizes the referencing table) waits lock_timeout and is
    skipped with that reason; every other check runs, the locked table's other problems are
    reported, and the run completes instead of hanging (PgHero's users hit that hang)."""
    cluster.execute(
        "CREATE TABLE parents (id int PRIMARY KEY);"
        "CREATE TABLE migrating (id int, parent_id int REFERENCES parents) WITH (autovacuum_enabled = false);"
        "INSERT INTO migrating SELECT generate_series(1, 1000); ANALYZE migrating",
        "shop",
    )
    migration = cluster.connect("shop", autocommit=False)
    migration.execute("LOCK TABLE migrating IN ACCESS EXCLUSIVE MODE")
    try:
        task = review_task(cluster, lock_timeout_ms=200)
        task.connection.username = "postgres"
        task.connection.save()
        started = time.monotonic()
        done = review(task)
        elapsed = time.monotonic() - started
    finally:
        migration.rollback()
        migration.close()

    assert elapsed < 60  # a hang would last the worker's whole timeout
    assert done.result["checks_skipped"] == [
        {
            "check": "missing_fk_index",
            "database": "shop",
            "reason": "a lock it needs was held longer than lock_timeout (200ms)",
        }
    ]
    assert done.result["checks_run"] == len(CHECKS) - 1
    assert ("shop", "autovacuum_disabled", "public.migrating") in open_findings(api, task)

    # Once the migration is over, the next run sees the unindexed foreign key.
    again = review(task)
    assert again.result["checks_skipped"] == []
    assert any(key[1] == "missing_fk_index" and "migrating" in key[2] for key in open_findings(api, task))
    cluster.execute("DROP TABLE migrating, parents", "shop")
