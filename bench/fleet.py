"""A generated fleet for the benches that read the API (api_scale.py, load.py): connections,
their review tasks, runs, findings and sightings, written with generate_series in one
statement each, so that a million runs take a minute, not an hour of ORM saves.

Each function takes a cursor on a migrated database. Times are SQL expressions of `n`, the
row's number in its generate_series, so each bench says how its history is spread.
"""

from __future__ import annotations

# A finished run: 3% failed (every 33rd), the others completed in about a minute.
FINISHED = {
    "status": "CASE WHEN mod(n, 33) = 0 THEN 'failed' ELSE 'completed' END",
    "completed": "at + interval '61 s'",
    "duration": "60 + mod(n, 7)",
    "error": "CASE WHEN mod(n, 33) = 0 THEN 'connection timeout expired' END",
}
RUNNING = {"status": "'running'", "completed": "NULL", "duration": "NULL", "error": "NULL", "result": "NULL"}


def add_connections(cur, count: int) -> None:
    """`count` active connections, db-1 … db-N, registered 400 days ago."""
    cur.execute(
        """INSERT INTO connections_connection (name, host, port, database, username, sslmode, sslrootcert,
               connect_timeout, vault_path, vault_database_role, is_active, created_at, updated_at)
           SELECT 'db-' || n, 'db-' || n || '.example.internal', 5432, 'app', 'monitor', 'prefer', '', 5, '',
                  '', true, now() - interval '400 days', now() - interval '400 days'
           FROM generate_series(1, %s) n""",
        [count],
    )


def add_tasks(cur, count: int) -> None:
    """A health-check task on each of the first `count` connections, every 5 minutes."""
    cur.execute(
        """INSERT INTO tasks_task (name, task_type, connection_id, schedule, is_active, config,
               timeout_seconds, created_at, updated_at)
           SELECT 'review ' || c.id, 'health_check', c.id, '*/5 * * * *', true, '{}', 300,
                  now() - interval '400 days', now() - interval '400 days'
           FROM connections_connection c ORDER BY c.id LIMIT %s""",
        [count],
    )


def add_runs(cur, count: int, moment: str, kind: dict[str, str] = FINISHED, result: str = "NULL") -> None:
    """`count` runs spread over the tasks in turn, queued at `moment` (an expression of n) and
    started a second later; `kind`: FINISHED or RUNNING; `result`: the finished runs' result
    (an SQL expression)."""
    columns = {"result": result, **kind}
    cur.execute(
        """INSERT INTO task_executions (task_id, status, trigger, created_at, started_at, completed_at,
               duration_seconds, result, error_message, celery_task_id, worker, publish_count)
           SELECT t.ids[1 + mod(n, array_length(t.ids, 1))], {status}, 'scheduled', at, at + interval '1 s',
                  {completed}, {duration}, {result}, {error}, '', 'worker-1', 1
           FROM (SELECT array_agg(id ORDER BY id) ids FROM tasks_task) t,
                generate_series(1, %s) n,
                LATERAL (SELECT {moment} AS at) m""".format(moment=moment, **columns),
        [count],
    )


def add_findings(cur, where: str, state: str, category: str, message: str) -> None:
    """A finding from each finished run `e` that `where` selects; `state`: an SQL expression
    ('open' or 'resolved', or a CASE); a resolved finding was resolved when its run completed."""
    cur.execute(
        f"""INSERT INTO task_findings (execution_id, task_id, connection_id, severity, category, subject, key,
               state, message, remedy, count, first_seen, last_seen, resolved_at, sample, database, "user",
               details, created_at)
           SELECT e.id, e.task_id, t.connection_id, 'warning', %s, 'database', md5(%s || e.id), s.state, %s, '',
                  1, e.started_at, e.started_at, CASE WHEN s.state = 'resolved' THEN e.completed_at END, '', 'app',
                  '', '{{}}', e.completed_at
           FROM task_executions e JOIN tasks_task t ON t.id = e.task_id,
                LATERAL (SELECT {state} AS state) s
           WHERE e.status <> 'running' AND ({where})""",
        [category, category, message],
    )


def add_sightings(cur) -> None:
    """Each finding seen by the run that found it."""
    cur.execute(
        """INSERT INTO task_finding_sightings (execution_id, finding_id, severity, message, count, first_seen,
               last_seen, sample, database, "user", details)
           SELECT execution_id, id, severity, message, 1, first_seen, last_seen, '', database, "user", '{}'
           FROM task_findings"""
    )
