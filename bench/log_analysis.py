"""Log analysis against pgBadger: throughput, peak memory and counts on the same real log.

Builds a real PostgreSQL log of LOG_BENCH_MB megabytes (default 300): a throwaway cluster
with every statement logged (log_min_duration_statement = 0), pgbench traffic, and between
pgbench runs a few deadlocks, lock waits, division-by-zero errors, statement timeouts, failed
password logins, temporary files and slow statements. The log is cached in bench/out/.

Then runs pgBadger (`-j 1`) and this analyzer (`python -m tasks.logs`), with its workload
report on (the default) and off, each in its own process on one core, on the full log and on
its first quarter, and prints throughput (MB/s and the ratio to pgBadger), peak RSS of each
process, the size of the workload report, and the counts both report.

    .venv/bin/python bench/log_analysis.py            # LOG_BENCH_MB=300 by default
    LOG_BENCH_MB=50 .venv/bin/python bench/log_analysis.py
    LOG_BENCH_ROUNDS=3 ...                             # runs of each tool, in turns (default 2)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from testing.pg_cluster import PgCluster, pg_bin  # noqa: E402

PREFIX = "%m [%p] %q%u@%d "
TARGET_MB = int(os.environ.get("LOG_BENCH_MB", "300"))
ROUNDS = int(os.environ.get("LOG_BENCH_ROUNDS", "2"))  # runs of each tool per log, the best counts
OUT = ROOT / "bench" / "out"
BAD_PASSWORD_ROLE = "bench_badpw"

SETTINGS = {
    "logging_collector": "on",
    "log_destination": "'stderr'",
    "log_directory": "'log'",
    "log_filename": "'postgresql.log'",
    "log_rotation_size": "0",
    "log_rotation_age": "0",
    "log_line_prefix": f"'{PREFIX}'",
    "log_min_duration_statement": "0",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_checkpoints": "on",
    "log_autovacuum_min_duration": "0",
    "deadlock_timeout": "'100ms'",
    "lc_messages": "'C'",
    "max_wal_size": "'64MB'",
    "checkpoint_timeout": "'30s'",
}

# Events injected after each pgbench run (the counts the comparison expects).
PER_ROUND = {"errors": 10, "deadlocks": 1, "auth_failures": 3, "temp_files": 2, "statement_timeouts": 1}


# --- building the log ---------------------------------------------------------------------


def build_log(target: Path, megabytes: int) -> dict[str, int]:
    """Run a cluster until its log holds `megabytes` MB; copy it to `target`. Returns event counts."""
    cluster = PgCluster(auth="trust", settings=SETTINGS).start()
    injected = dict.fromkeys(PER_ROUND, 0)
    try:
        cluster.wait_ready()
        hba = cluster.datadir / "pg_hba.conf"
        hba.write_text(f"host all {BAD_PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        cluster.execute(f"CREATE ROLE {BAD_PASSWORD_ROLE} LOGIN PASSWORD 'right-password'")
        cluster.execute("CREATE TABLE bench_deadlock (id int PRIMARY KEY, v int)")
        cluster.execute("INSERT INTO bench_deadlock VALUES (1, 0), (2, 0)")
        cluster.execute("SELECT pg_reload_conf()")
        env = {**os.environ, "PGPASSWORD": cluster.superuser_password}
        base = ["-h", cluster.host, "-p", str(cluster.port), "-U", cluster.superuser]
        subprocess.run([pg_bin("pgbench"), "-i", "-q", "-s", "10", *base, "postgres"], env=env, check=True)
        log = cluster.datadir / "log" / "postgresql.log"
        cluster.execute("SELECT pg_sleep(1.2)")  # one slow statement over the default threshold
        started = time.monotonic()
        while log.stat().st_size < megabytes * 1024 * 1024:
            subprocess.run(
                [pg_bin("pgbench"), "-n", "-c", "4", "-j", "2", "-T", "5", *base, "postgres"],
                env=env,
                check=True,
                capture_output=True,
            )
            _inject_events(cluster, injected)
            print(f"  log {log.stat().st_size / 2**20:.0f} MB after {time.monotonic() - started:.0f} s", flush=True)
        time.sleep(1)  # let the collector write the last messages
        shutil.copyfile(log, target)
    finally:
        cluster.stop()
    return injected


def _inject_events(cluster: PgCluster, injected: dict[str, int]) -> None:
    with cluster.connect() as conn:
        for _ in range(PER_ROUND["errors"]):
            try:
                conn.execute("SELECT 1/0")
            except psycopg.errors.DivisionByZero:
                injected["errors"] += 1
        conn.execute("SET work_mem = '64kB'")
        for _ in range(PER_ROUND["temp_files"]):
            conn.execute("SELECT g FROM generate_series(1, 20000) g ORDER BY random()").fetchall()
            injected["temp_files"] += 1
        conn.execute("SET statement_timeout = '50ms'")
        try:
            conn.execute("SELECT pg_sleep(1)")
        except psycopg.errors.QueryCanceled:
            injected["statement_timeouts"] += 1
    for _ in range(PER_ROUND["auth_failures"]):
        try:
            cluster.connect(user=BAD_PASSWORD_ROLE, password="wrong-password").close()
        except psycopg.OperationalError:
            injected["auth_failures"] += 1
    injected["deadlocks"] += _deadlock(cluster)


def _deadlock(cluster: PgCluster) -> int:
    """Two sessions update rows 1 and 2 in opposite orders; one of them is chosen as victim."""
    a, b = cluster.connect(autocommit=False), cluster.connect(autocommit=False)
    failures: list[Exception] = []
    try:
        a.execute("UPDATE bench_deadlock SET v = v + 1 WHERE id = 1")
        b.execute("UPDATE bench_deadlock SET v = v + 1 WHERE id = 2")

        def a_waits() -> None:
            try:
                a.execute("UPDATE bench_deadlock SET v = v + 1 WHERE id = 2")
            except psycopg.errors.DeadlockDetected as exc:
                failures.append(exc)

        waiter = threading.Thread(target=a_waits)
        waiter.start()
        time.sleep(0.3)  # past deadlock_timeout: a logs "still waiting for ShareLock"
        try:
            b.execute("UPDATE bench_deadlock SET v = v + 1 WHERE id = 1")
        except psycopg.errors.DeadlockDetected as exc:
            failures.append(exc)
        waiter.join()
    finally:
        a.rollback()
        b.rollback()
        a.close()
        b.close()
    return len(failures)


def quarter_of(full: Path) -> Path:
    """The first quarter of the log, cut at an entry boundary (a line starting with the year)."""
    part = full.with_name(full.stem + "-quarter.log")
    if part.exists():
        return part
    size = full.stat().st_size // 4
    with open(full, "rb") as src:
        head = src.read(size + 1024 * 1024)
    cut = head.find(b"\n20", size) + 1
    part.write_bytes(head[:cut])
    return part


# --- measuring ----------------------------------------------------------------------------


def run_measured(argv: list[str], cwd: Path | None = None) -> tuple[float, int, str]:
    """Run argv pinned to one core; return (CPU seconds, peak RSS in MB, stdout).

    CPU time (user + system) rather than wall time: on a shared machine a process waiting for
    the core measures its neighbours, not itself. Both come from GNU time: a child forked from
    this (large) process would report the parent's pages as its own until it execs.
    """
    with tempfile.NamedTemporaryFile() as usage, tempfile.TemporaryFile() as out:
        wrapped = ["/usr/bin/time", "-f", "%M %U %S", "-o", usage.name]
        if shutil.which("taskset"):
            wrapped += ["taskset", "-c", "1"]
        proc = subprocess.run([*wrapped, *argv], stdout=out, stderr=subprocess.PIPE, cwd=cwd)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
        out.seek(0)
        rss, user, system = Path(usage.name).read_text().split()[-3:]
        return float(user) + float(system), int(rss) // 1024, out.read().decode()


def run_pgbadger(log: Path) -> tuple[float, int, dict]:
    report = OUT / f"pgbadger-{log.stem}.json"  # kept, to look into any difference
    argv = ["pgbadger", "-j", "1", "-f", "stderr", "-p", PREFIX, "-q", "--no-process-info", "-o", str(report)]
    argv += ["--pid-dir", str(OUT), str(log)]  # its own pid file: another pgBadger may be running
    elapsed, rss, _ = run_measured(argv)
    return elapsed, rss, pgbadger_counts(json.loads(report.read_text()))


def run_analyzer(log: Path, workload: bool = True) -> tuple[float, int, dict, int]:
    """(seconds, peak RSS MB, counts, bytes of the workload report as JSON)."""
    argv = [sys.executable, "-m", "tasks.logs", str(log), "--format", "stderr", "--prefix", PREFIX]
    if not workload:
        argv += ["--config", '{"workload_report": false}']
    elapsed, rss, out = run_measured(argv, cwd=ROOT)
    output = json.loads(out)
    if workload:
        (OUT / f"ours-{log.stem}.json").write_text(out)  # kept, to look into any difference
    report_size = len(json.dumps(output["workload"], separators=(",", ":"))) if "workload" in output else 0
    return elapsed, rss, analyzer_counts(output), report_size


def pgbadger_counts(report: dict) -> dict[str, int]:
    """The counts pgBadger's JSON report holds for the comparison (sections are keyed by log source)."""

    def each(section: str) -> list[dict]:
        return [v for v in report.get(section, {}).values() if isinstance(v, dict)]

    errors = {"ERROR": 0, "FATAL": 0, "PANIC": 0}
    for levels in each("logs_type"):
        for level in errors:
            errors[level] += int(levels.get(level, 0))
    messages = [(k, v.get("count", 0)) for source in each("error_info") for k, v in source.items()]
    overall = {}
    for source in each("overall_stat"):
        for kind in ("select", "insert", "update", "tcl"):
            overall[f"{kind} queries"] = overall.get(f"{kind} queries", 0) + int(source.get(kind, 0))
    return {
        "queries": int(report.get("overall_stat", {}).get("queries_number", 0)),
        "errors": sum(errors.values()),
        "error events": int(report.get("overall_stat", {}).get("errors_number", 0)),
        "deadlocks": sum(c for k, c in messages if k.startswith("ERROR:  deadlock detected")),
        "auth_failures": sum(c for k, c in messages if "authentication failed" in k),
        "temp_files": sum(int(v.get("count", 0)) for v in each("tempfile_info")),
        "lock_waits": sum(
            int(lock.get("count", 0))
            for source in each("lock_info")
            for lock in source.values()
            if isinstance(lock, dict)
        ),
        "checkpoints": sum(int(n) for n in report.get("checkpoint_info", {}).get("starting", {}).values()),
        "sessions": sum(int(source.get("count", 0)) for source in each("session_info")),
        "connections": sum(int(source.get("count", 0)) for source in each("connection_info")),
        **overall,
    }


def analyzer_counts(output: dict) -> dict[str, int]:
    totals = output["summary"]["totals"]
    counts = {key: int(totals[key]) for key in ("queries", "errors", "deadlocks", "auth_failures", "temp_files")}
    counts["lock_waits"] = int(totals["lock_waits"])
    counts["checkpoints"] = int(totals["checkpoints"])
    workload = output.get("workload")
    if workload:
        counts["sessions"] = workload["sessions"]["count"]
        counts["connections"] = workload["connections"]["authorized"]
        for kind in ("select", "insert", "update", "tcl"):
            counts[f"{kind} queries"] = workload["queries"]["by_kind"][kind]["count"]
    return counts


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    full = OUT / f"postgres-{TARGET_MB}MB.log"
    expected_file = full.with_suffix(".events.json")
    if not full.exists():
        print(f"building a {TARGET_MB} MB log in {full} (pgbench + injected events) ...", flush=True)
        injected = build_log(full, TARGET_MB)
        expected_file.write_text(json.dumps(injected))
    if "--generate-only" in sys.argv:
        return
    injected = json.loads(expected_file.read_text()) if expected_file.exists() else {}
    quarter = quarter_of(full)
    rows = []
    for log in (quarter, full):
        mb = log.stat().st_size / 2**20
        # Each tool twice, in turns: the better of two runs, so that a burst of load from
        # another process on the machine does not decide the ratio.
        badger, on, off = [], [], []
        for _ in range(ROUNDS):
            badger.append(run_pgbadger(log))
            on.append(run_analyzer(log, workload=True))
            off.append(run_analyzer(log, workload=False))
        b_time, b_rss, b_counts = min(badger, key=lambda run: run[0])
        on_time, on_rss, a_counts, report_size = min(on, key=lambda run: run[0])
        off_time, off_rss, _, _ = min(off, key=lambda run: run[0])
        rows.append((log.name, mb, b_time, b_rss, b_counts, on_time, on_rss, a_counts, off_time, off_rss, report_size))

    print(
        f"\nmachine: {os.cpu_count()} cores, {_cpu_model()}; every run pinned to one core (taskset -c 1); "
        "MB/s per CPU second (user + system)"
    )
    print(
        f"{'log':<32} {'MB':>6} {'pgBadger MB/s':>14} {'report on MB/s':>15} {'ratio':>6} {'report off MB/s':>16} "
        f"{'ratio':>6} {'RSS pgBadger':>13} {'on':>6} {'off':>6} {'report':>8}"
    )
    for name, mb, b_time, b_rss, _, on_time, on_rss, _, off_time, off_rss, size in rows:
        print(
            f"{name:<32} {mb:>6.0f} {mb / b_time:>14.1f} {mb / on_time:>15.1f} {b_time / on_time:>5.1f}x "
            f"{mb / off_time:>16.1f} {b_time / off_time:>5.1f}x {b_rss:>10} MB {on_rss:>3} MB {off_rss:>3} MB "
            f"{size / 1024:>5.1f} KB"
        )
    print(f"\ncounts on {rows[-1][0]} (injected by the generator: {injected})")
    print(f"{'count':<16} {'pgBadger':>10} {'ours':>10}")
    for key in rows[-1][4]:
        print(f"{key:<16} {rows[-1][4][key]:>10} {rows[-1][7].get(key, '-'):>10}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
