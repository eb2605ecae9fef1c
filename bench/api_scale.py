"""API at scale: each endpoint's latency with a short history and with a long one.

Two scratch databases get the same recent activity (100 connections probed every minute
for the last 10 minutes, 20 tasks with runs in the last hour, 5 of them running now) on top
of a history of old rows: 1,000 executions and 10,000 probe results (small) against
1,000,000 and 5,000,000 (large), generated with generate_series. Each endpoint is then
timed through Django's test client (in-process: the view, its queries and the JSON, no
HTTP), and the bench prints its query count, p50 at both scales and the ratio (goal <= 1.5),
and the buffers that EXPLAIN (ANALYZE, BUFFERS) reads for the queries that used to grow with
history, next to the query they replaced.

    .venv/bin/python bench/api_scale.py        # BENCH_SCALE=1: 1M executions, 5M statuses
    BENCH_SCALE=0.2 .venv/bin/python bench/api_scale.py   # a fifth of the large history

Each scale runs in its own process (Django reads one DATABASE_URL); the databases
reviewer_bench_scale_small and _large on 127.0.0.1:5432 are dropped and rebuilt.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SIZES = {
    "small": {"executions": 1_000, "statuses": 10_000},
    "large": {"executions": int(1_000_000 * SCALE), "statuses": int(5_000_000 * SCALE)},
}
REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS, TASKS, RUNNING = 100, 20, 5
API = "/api/v1/monitoring"


def configure(size: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reviewer.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/reviewer_bench_scale_{size}",
        CACHE_URL="redis://127.0.0.1:6379/13",
        REVIEWER_PUBLIC_READ="true",
        METRICS_ALLOWED_NETWORKS="127.0.0.1/32",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-a-secret"),
        DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build(size: str) -> float:
    """Recreate the scratch database and fill it; return the seconds it took."""
    import psycopg
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(host="127.0.0.1", dbname="postgres", user="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)
    history_runs = SIZES[size]["executions"]
    history_statuses = SIZES[size]["statuses"]
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO connections_connection (name, host, port, database, username, sslmode, sslrootcert,
                   connect_timeout, vault_path, vault_database_role, is_active, created_at, updated_at)
               SELECT 'db-' || n, '10.0.0.' || n, 5432, 'app', 'monitor', 'prefer', '', 5, '', '', true,
                      now() - interval '400 days', now() - interval '400 days'
               FROM generate_series(1, %s) n""",
            [CONNECTIONS],
        )
        cur.execute(
            """INSERT INTO tasks_task (name, task_type, connection_id, schedule, is_active, config,
                   timeout_seconds, created_at, updated_at)
               SELECT 'review ' || c.id, 'health_check', c.id, '*/5 * * * *', true, '{}', 300,
                      now() - interval '400 days', now() - interval '400 days'
               FROM connections_connection c ORDER BY c.id LIMIT %s""",
            [TASKS],
        )
        # History first (lower ids), spread over the last year, 3% failed; then the recent hour.
        runs = """INSERT INTO task_executions (task_id, status, trigger, created_at, started_at, completed_at,
                   duration_seconds, result, error_message, celery_task_id, worker, publish_count)
               SELECT t.ids[1 + mod(n, array_length(t.ids, 1))], {status}, 'scheduled', at, at + interval '1 s',
                      {completed}, {duration}, NULL, {error}, '', 'worker-1', 1
               FROM (SELECT array_agg(id ORDER BY id) ids FROM tasks_task) t,
                    generate_series(1, %s) n,
                    LATERAL (SELECT {moment} AS at) m"""
        finished = {
            "status": "CASE WHEN mod(n, 33) = 0 THEN 'failed' ELSE 'completed' END",
            "completed": "at + interval '61 s'",
            "duration": "60 + mod(n, 7)",
            "error": "CASE WHEN mod(n, 33) = 0 THEN 'connection refused' END",
        }
        cur.execute(
            runs.format(
                moment=f"now() - interval '2 days' - ({history_runs} - n) * interval '360 days' / {history_runs}",
                **finished,
            ),
            [history_runs],
        )
        cur.execute(runs.format(moment="now() - n * interval '30 s'", **finished), [100])
        cur.execute(
            runs.format(
                moment="now() - n * interval '10 s'",
                status="'running'",
                completed="NULL",
                duration="NULL",
                error="NULL",
            ),
            [RUNNING],
        )
        cur.execute(
            """INSERT INTO task_findings (execution_id, task_id, connection_id, severity, category, subject, key,
                   state, message, remedy, count, first_seen, last_seen, resolved_at, sample, database, "user",
                   details, created_at)
               SELECT e.id, e.task_id, t.connection_id, 'warning', 'deadlock', 'database', md5(e.id::text),
                      'resolved', 'deadlock detected', '', 1, e.started_at, e.started_at, e.completed_at, '', 'app',
                      '', '{}', e.completed_at
               FROM task_executions e JOIN tasks_task t ON t.id = e.task_id
               WHERE mod(e.id, 100) = 0 AND e.status <> 'running'"""
        )
        # Recent activity: an open finding from each run of the last hour (the same at both scales).
        cur.execute(
            """INSERT INTO task_findings (execution_id, task_id, connection_id, severity, category, subject, key,
                   state, message, remedy, count, first_seen, last_seen, resolved_at, sample, database, "user",
                   details, created_at)
               SELECT e.id, e.task_id, t.connection_id, 'warning', 'slow_query', 'database', md5('recent' || e.id),
                      'open', 'slow query', '', 1, e.started_at, e.started_at, NULL, '', 'app', '', '{}',
                      e.completed_at
               FROM task_executions e JOIN tasks_task t ON t.id = e.task_id
               WHERE e.created_at > now() - interval '1 hour' AND e.status <> 'running'"""
        )
        cur.execute(
            """INSERT INTO task_finding_sightings (execution_id, finding_id, severity, message, count, first_seen,
                   last_seen, sample, database, "user", details)
               SELECT execution_id, id, severity, message, 1, first_seen, last_seen, '', database, "user", '{}'
               FROM task_findings"""
        )
        statuses = """INSERT INTO connection_status (connection_id, is_healthy, checked_at, response_time_ms,
                   server_version, error_message)
               SELECT c.ids[1 + mod(n, array_length(c.ids, 1))], mod(n, 10) <> 0, {moment}, 3.5, '15.4', NULL
               FROM (SELECT array_agg(id ORDER BY id) ids FROM connections_connection) c,
                    generate_series(1, %s) n"""
        cur.execute(
            statuses.format(
                moment=f"now() - interval '1 day' - ({history_statuses} - n) * interval '30 days' / {history_statuses}"
            ),
            [history_statuses],
        )
        cur.execute(statuses.format(moment="now() - (n / 100) * interval '1 minute'"), [CONNECTIONS * 10])
    connection.close()
    with psycopg.connect(host="127.0.0.1", dbname=name, user="postgres", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def endpoints() -> dict[str, str]:
    from tasks.models import Task, TaskExecution

    task = Task.objects.order_by("id").first()
    execution = TaskExecution.objects.order_by("-id").first()
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    return {
        "tasks/executions": f"{API}/tasks/executions",
        "tasks/executions?limit=1000": f"{API}/tasks/executions?limit=1000",
        "tasks/executions?status=failed&since=1h": f"{API}/tasks/executions?status=failed&since={hour_ago}",
        "tasks/executions?task_id&since=1h": f"{API}/tasks/executions?task_id={task.id}&since={hour_ago}",
        "tasks/executions?since=1h": f"{API}/tasks/executions?since={hour_ago}",
        "tasks/{id}/executions": f"{API}/tasks/{task.id}/executions",
        "tasks/executions/{id}/findings": f"{API}/tasks/executions/{execution.id}/findings",
        "tasks/running": f"{API}/tasks/running",
        "connections/status": f"{API}/connections/status",
        "connections/{id}/status": f"{API}/connections/{task.connection_id}/status",
        "findings": f"{API}/findings",
        "metrics": "/metrics",
    }


def measure() -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    results = {}
    for label, url in endpoints().items():
        times = []
        for _ in range(REPEAT + 2):
            cache.clear()  # the cost of a cold request, not of a cached answer
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code, response.content[:200])
        times = times[2:]  # warm-up
        results[label] = {"queries": len(captured.captured_queries), "p50_ms": statistics.median(times)}
    return results


def buffers(queryset) -> int:
    """Shared buffers (hit + read) that EXPLAIN (ANALYZE, BUFFERS) reports for the plan."""
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        document = cur.fetchone()[0]
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


def plans() -> dict:
    from datetime import UTC, datetime, timedelta

    from django.db.models import F, Q, Window
    from django.db.models.functions import RowNumber

    from monitoring.api.params import since_filter
    from tasks.estimates import ESTIMATE_SAMPLE, durations_query
    from tasks.models import ExecutionStatus, Task, TaskExecution

    since = datetime.now(UTC) - timedelta(hours=1)
    before = Q(started_at__gte=since) | Q(started_at__isnull=True, created_at__gte=since)
    latest = TaskExecution.objects.order_by("-id")
    task_id = Task.objects.order_by("id").first().id
    running = set(TaskExecution.objects.filter(status=ExecutionStatus.RUNNING).values_list("task_id", flat=True))
    window = (
        TaskExecution.objects.filter(
            task_id__in=running, status=ExecutionStatus.COMPLETED, duration_seconds__isnull=False
        )
        .annotate(rank=Window(RowNumber(), partition_by=[F("task_id")], order_by=F("id").desc()))
        .filter(rank__lte=ESTIMATE_SAMPLE)
        .values_list("task_id", "duration_seconds")
    )
    failed = latest.filter(status=ExecutionStatus.FAILED)
    mine = latest.filter(task_id=task_id)
    return {
        "status=failed&since": {
            "now": buffers(failed.filter(since_filter(since))[:50]),
            "before": buffers(failed.filter(before)[:50]),
        },
        "task_id&since": {
            "now": buffers(mine.filter(since_filter(since))[:50]),
            "before": buffers(mine.filter(before)[:50]),
        },
        "running estimates": {"now": buffers(durations_query(running)), "before": buffers(window)},
    }


def purge() -> dict:
    """Time the execution purge of the oldest quarter of the history (with its findings),
    and Django's delete collector (the purge before) on the 20,000 runs after it."""
    from django.db.models import Q

    from connections.retention import purge_in_batches, retention_cutoff
    from tasks.models import TaskExecution
    from tasks.retention import EXECUTION_BATCH, FINISHED, purge_execution_history

    before = TaskExecution.objects.count()
    started = time.perf_counter()
    deleted = purge_execution_history(days=2 + 270, max_batches=10**6)
    seconds = time.perf_counter() - started
    assert TaskExecution.objects.count() == before - deleted
    started = time.perf_counter()
    collected = purge_in_batches(
        TaskExecution,
        "created_at",
        retention_cutoff(2),
        batch=EXECUTION_BATCH,
        max_batches=10,
        only=Q(status__in=FINISHED),
    )
    return {"rows": deleted, "seconds": seconds, "collector_rate": collected / (time.perf_counter() - started)}


def child(phase: str, size: str) -> None:
    configure(size)
    if phase == "build":
        print(json.dumps({"build_s": build(size)}))
    elif phase == "measure":
        print(json.dumps({"endpoints": measure(), "plans": plans()}))
    else:
        print(json.dumps(purge()))


def run_child(phase: str, size: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", phase, size], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    out = {}
    for size in SIZES:
        print(f"building {size}: {SIZES[size]} ...", file=sys.stderr, flush=True)
        out[size] = run_child("build", size)
    # Alternate the scales (the machine is shared, its load drifts) and keep each
    # endpoint's best p50 over the rounds.
    for round_ in range(ROUNDS):
        for size in SIZES:
            print(f"measuring {size}, round {round_ + 1} of {ROUNDS} ...", file=sys.stderr, flush=True)
            result = run_child("measure", size)
            if "endpoints" not in out[size]:
                out[size].update(result)
                continue
            for label, figures in result["endpoints"].items():
                best = out[size]["endpoints"][label]
                best["p50_ms"] = min(best["p50_ms"], figures["p50_ms"])
    print("purging the oldest quarter of the large history ...", file=sys.stderr, flush=True)
    purged = run_child("purge", "large")
    small, large = out["small"], out["large"]
    print(f"history: small {SIZES['small']}, large {SIZES['large']} (BENCH_SCALE={SCALE})")
    print(f"data generation: small {small['build_s']:.0f} s, large {large['build_s']:.0f} s")
    print(f"{'endpoint':42} {'queries':>7} {'p50 small':>10} {'p50 large':>10} {'ratio':>6}")
    worst = 0.0
    for label, s in small["endpoints"].items():
        big = large["endpoints"][label]
        ratio = big["p50_ms"] / s["p50_ms"]
        worst = max(worst, ratio)
        queries = f"{s['queries']}" if s["queries"] == big["queries"] else f"{s['queries']}/{big['queries']}"
        print(f"{label:42} {queries:>7} {s['p50_ms']:8.2f}ms {big['p50_ms']:8.2f}ms {ratio:6.2f}")
    print(f"worst ratio {worst:.2f} (goal <= 1.5)")
    print("EXPLAIN (ANALYZE, BUFFERS) shared buffers, small -> large: now | the query it replaced")
    for label, s in small["plans"].items():
        big = large["plans"][label]
        print(f"  {label:22} {s['now']:>6} -> {big['now']:<6} | {s['before']:>6} -> {big['before']}")
    rate = purged["rows"] / purged["seconds"]
    print(
        f"execution purge: {purged['rows']} rows (and their findings) in {purged['seconds']:.1f} s, {rate:,.0f} rows/s;"
        f" Django's delete collector on the next 20,000: {purged['collector_rate']:,.0f} rows/s"
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
