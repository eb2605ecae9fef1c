"""Under load: the monitoring API behind the production command and behind the development server.

A private PostgreSQL cluster gets a realistic fleet (100 connections with a day of probe
results, 20 tasks with 20,000 executions over 30 days, 100 in the last hour and 5 running,
findings), and a read-only user with a token. Then, one after the other:

- the production command, `scripts/serve.sh` (collectstatic, then granian with its defaults:
  WEB_WORKERS=2, WEB_THREADS=4; BENCH_WEB_WORKERS=2,4 measures each count);
- gunicorn with gthread workers, the same workers and threads, the access log on: the
  production server before granian, kept as the reference (from requirements-dev.txt);
- the development server, `manage.py runserver --noreload`, as `make run` starts it (its
  connections close after each request, as under DJANGO_DEBUG);

each under BENCH_USERS (200) closed-loop locust clients (bench/load_locustfile.py: no think
time, the monitoring scripts' request mix, FastHttpUser) for BENCH_SECONDS (60), started at
BENCH_SPAWN_RATE (50) clients per second; latencies count from when every client runs. It prints, per server, req/s, p50/p95/p99 and
errors, overall and per endpoint, and where the CPU went: milliseconds of CPU per request in
the web processes and in PostgreSQL, and what the load generator itself cost, since it
shares the machine's cores with the server.

    .venv/bin/python bench/load.py
    BENCH_USERS=50 BENCH_SECONDS=20 BENCH_SERVERS=serve .venv/bin/python bench/load.py

Redis: BENCH_REDIS_URL / BENCH_CACHE_URL (default databases 11 and 12 on 127.0.0.1:6379; the
bench clears its cache database before each server).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fleet  # noqa: E402
from testing.network import free_port  # noqa: E402
from testing.pg_cluster import PgCluster  # noqa: E402

USERS = int(os.environ.get("BENCH_USERS", "200"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
SPAWN_RATE = int(os.environ.get("BENCH_SPAWN_RATE", "50"))
SERVERS = os.environ.get("BENCH_SERVERS", "serve,gunicorn,runserver").split(",")
# Empty: scripts/serve.sh's own default.
WEB_WORKERS = os.environ.get("BENCH_WEB_WORKERS", "").split(",")
LOCUST = os.environ.get("BENCH_LOCUST", str(ROOT / ".venv" / "bin" / "locust"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/12")
CONNECTIONS, TASKS, RUNNING, HISTORY_EXECUTIONS, STATUS_MINUTES = 100, 20, 5, 20_000, 1440
DATABASE = "reviewer_bench_load"
API = "/api/v1/monitoring"
TICKS = os.sysconf("SC_CLK_TCK")


def settings_env(cluster: PgCluster) -> dict[str, str]:
    """The production settings (DJANGO_DEBUG off) over plain http on loopback."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reviewer.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{cluster.port}/{DATABASE}",
        "REDIS_URL": REDIS_URL,
        "CACHE_URL": CACHE_URL,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-not-a-secret",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_HSTS_SECONDS": "0",
        "REVIEWER_PUBLIC_READ": "false",
        "PYTHONUNBUFFERED": "1",
    }


def build(cluster: PgCluster) -> tuple[str, list[int]]:
    """Create and fill the scratch database; the reader's token and the connection ids."""
    cluster.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ.update(settings_env(cluster))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        fleet.add_connections(cur, CONNECTIONS)
        # A probe per connection per minute for a day, the newest a few seconds ago; 5% failed.
        cur.execute(
            """INSERT INTO connection_status (connection_id, is_healthy, checked_at, response_time_ms,
                   server_version, error_message)
               SELECT c.id, mod(c.id + m, 20) <> 0, now() - m * interval '1 minute' - interval '5 s', 4, '15.4',
                      CASE WHEN mod(c.id + m, 20) = 0 THEN 'connection timeout expired' END
               FROM connections_connection c, generate_series(%s, 0, -1) m""",
            [STATUS_MINUTES - 1],
        )
        fleet.add_tasks(cur, TASKS)
        healthy = """CASE WHEN mod(n, 33) <> 0 THEN '{"is_healthy": true, "response_time_ms": 4}'::jsonb END"""
        history = f"now() - interval '1 hour' - ({HISTORY_EXECUTIONS} - n) * interval '30 days' / {HISTORY_EXECUTIONS}"
        fleet.add_runs(cur, HISTORY_EXECUTIONS, history, result=healthy)
        fleet.add_runs(cur, 100, "now() - n * interval '30 s'", result=healthy)
        fleet.add_runs(cur, RUNNING, "now() - n * interval '10 s'", fleet.RUNNING)
        # A finding from every 20th run, open for the runs of the last hour, resolved before.
        recent = "CASE WHEN e.created_at > now() - interval '1 hour' THEN 'open' ELSE 'resolved' END"
        fleet.add_findings(cur, "mod(e.id, 20) = 0", recent, "slow_query", "slow query")
        fleet.add_sightings(cur)
    connection.close()
    cluster.execute("VACUUM ANALYZE", dbname=DATABASE)
    token = Token.objects.create(user=User.objects.create_user("monitoring-script")).key
    connection.close()
    ids = list(range(1, CONNECTIONS + 1))
    return token, ids


def reference_loop_seconds() -> float:
    """CPU seconds of a fixed loop of Python arithmetic: how fast this machine runs right now.
    On a shared virtual machine the same work has taken from 0.4 to 1.0 s within the hour, and
    every latency here moves with it."""
    started = time.process_time()
    total = 0
    for value in range(5_000_000):
        total += value * value
    return time.process_time() - started


def proc_stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0 is field 3, the state)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(belongs) -> float:
    """CPU seconds of every live process for which belongs(pid, fields) is true, with the
    time of children they reaped (a restarted worker, an exited backend)."""
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit() and (fields := proc_stat(pid)) is not None and belongs(int(pid), fields):
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Server:
    """One web process tree on a free port, in its own session (so it can be told apart)."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], logdir: Path) -> None:
        self.label = label
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [part.replace("{port}", str(self.port)) for part in command]
        self.env = {**env, "WEB_BIND": f"127.0.0.1:{self.port}", "REVIEWER_STATE_DIR": str(logdir / "state")}
        self.logpath = logdir / f"{label.replace(' ', '_')}.log"

    def start(self, token: str) -> Server:
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        request = urllib.request.Request(
            f"{self.base}{API}/connections/status", headers={"Authorization": f"Token {token}"}
        )
        try:
            while True:
                if self.proc.poll() is not None:
                    sys.exit(f"{self.label} exited:\n{self.logpath.read_text()[-3000:]}")
                try:
                    urllib.request.urlopen(request, timeout=10).close()
                    return self
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline:
                        sys.exit(f"{self.label} did not answer within 120 s")
                    time.sleep(0.3)
        except BaseException:
            self.stop()  # never leave a server behind
            raise

    def cpu_seconds(self) -> float:
        return cpu_seconds(lambda pid, fields: int(fields[3]) == self.proc.pid)  # field 6: session id

    def log_offset(self) -> int:
        self.log.flush()
        return self.logpath.stat().st_size

    def requests_logged(self, since: int) -> int:
        """Requests answered since that log offset: the access logs of granian and gunicorn and
        runserver's request log each write one line per request, with its request line."""
        with open(self.logpath, "rb") as fh:
            fh.seek(since)
            return sum(1 for line in fh if b' HTTP/1.1" ' in line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def run_locust(base: str, token: str, ids: list[int], prefix: Path) -> tuple[float, list[dict], list[dict]]:
    """Run the clients against `base`; the load generator's CPU seconds, the stats rows, the failures."""
    env = {**os.environ, "LOAD_TOKEN": token, "LOAD_CONNECTION_IDS": ",".join(map(str, ids))}
    command = [
        LOCUST,
        "-f",
        str(ROOT / "bench" / "load_locustfile.py"),
        "--headless",
        "--users",
        str(USERS),
        "--spawn-rate",
        str(SPAWN_RATE),
        "--run-time",
        f"{SECONDS}s",
        "--host",
        base,
        "--csv",
        str(prefix),
        "--reset-stats",  # the figures start once every client is running
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "10",
        "--exit-code-on-error",
        "0",
    ]
    with open(f"{prefix}_locust.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + SECONDS + USERS / SPAWN_RATE + 120
    while True:
        # wait4, not Popen.wait: the rusage says what the load generator cost.
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit("locust did not stop in time")
        time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"locust failed ({proc.returncode}):\n{Path(f'{prefix}_locust.log').read_text()[-3000:]}")
    generator_cpu = usage.ru_utime + usage.ru_stime
    with open(f"{prefix}_stats.csv") as fh:
        stats = list(csv.DictReader(fh))
    with open(f"{prefix}_failures.csv") as fh:
        failures = list(csv.DictReader(fh))
    return generator_cpu, stats, failures


def postgres_cpu(cluster: PgCluster) -> float:
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    return cpu_seconds(lambda pid, fields: pid == postmaster or int(fields[1]) == postmaster)


def measure(server: Server, cluster: PgCluster, token: str, ids: list[int], workdir: Path) -> dict:
    from django.core.cache import cache

    cache.clear()
    server.start(token)
    try:
        offset = server.log_offset()
        web_before, pg_before, machine_before = server.cpu_seconds(), postgres_cpu(cluster), machine_ticks()
        started = time.monotonic()
        generator_cpu, stats, failures = run_locust(server.base, token, ids, workdir / server.label.replace(" ", "_"))
        wall = time.monotonic() - started
        web_cpu, pg_cpu = server.cpu_seconds() - web_before, postgres_cpu(cluster) - pg_before
        busy, total = (after - before for after, before in zip(machine_ticks(), machine_before, strict=True))
        time.sleep(1)  # the last access-log lines
        answered = server.requests_logged(offset)
    finally:
        server.stop()
    overall = next(row for row in stats if row["Name"] == "Aggregated")
    if not answered:
        # No access log (WEB_ACCESS_LOG=false): the clients' count after the ramp, stretched
        # over the ramp at the same rate (an estimate, a few per cent high).
        answered = int(int(overall["Request Count"]) * wall / max(wall - USERS / SPAWN_RATE, 1))
    # The latency figures start after the ramp (--reset-stats); the CPU figures divide the CPU
    # of the whole run by every request the server logged in it, ramp included.
    return {
        "stats": stats,
        "failures": failures,
        "overall": overall,
        "wall": wall,
        "answered": answered,
        "web_cpu_ms": 1000 * web_cpu / max(answered, 1),
        "pg_cpu_ms": 1000 * pg_cpu / max(answered, 1),
        "generator_cpu_ms": 1000 * generator_cpu / max(answered, 1),
        "generator_cores": generator_cpu / wall,
        "machine_busy": busy / total,
    }


def figure(row: dict, key: str) -> str:
    value = row.get(key, "")
    return value if value in ("", "N/A") else f"{float(value):.0f}"


def report(label: str, result: dict) -> None:
    overall = result["overall"]
    requests, errors = int(overall["Request Count"]), int(overall["Failure Count"])
    print(
        f"\n{label}: {float(overall['Requests/s']):.0f} req/s, p50 {figure(overall, '50%')} ms, "
        f"p95 {figure(overall, '95%')} ms, p99 {figure(overall, '99%')} ms, max {figure(overall, 'Max Response Time')} "
        f"ms, errors {errors} of {requests}"
    )
    print(
        f"  CPU per request: web {result['web_cpu_ms']:.2f} ms, PostgreSQL {result['pg_cpu_ms']:.2f} ms, "
        f"load generator {result['generator_cpu_ms']:.2f} ms ({result['generator_cores']:.2f} of a core); "
        f"machine busy {100 * result['machine_busy']:.0f}%"
    )
    print(f"  {'endpoint':58} {'requests':>8} {'errors':>6} {'p50':>6} {'p95':>6} {'p99':>6}")
    for row in result["stats"]:
        if row["Name"] != "Aggregated":
            print(
                f"  {row['Name']:58} {row['Request Count']:>8} {row['Failure Count']:>6} {figure(row, '50%'):>6}"
                f" {figure(row, '95%'):>6} {figure(row, '99%'):>6}"
            )
    for failure in result["failures"][:5]:
        print(f"  error: {failure['Occurrences']} x {failure['Method']} {failure['Name']}: {failure['Error'][:200]}")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="reviewer-bench-load-"))
    cluster = PgCluster(
        auth="trust",
        settings={"max_connections": str(USERS + 50), "shared_buffers": "256MB", "log_min_messages": "fatal"},
    ).start()
    try:
        token, ids = build(cluster)
        env = settings_env(cluster)
        servers = []
        for kind in SERVERS:
            if kind == "serve":
                for workers in WEB_WORKERS:
                    worker_env = {**env, "WEB_WORKERS": workers} if workers else env
                    label = f"serve.sh (granian) -w {workers or 'default'}"
                    servers.append(Server(label, ["bash", "scripts/serve.sh"], worker_env, workdir))
            elif kind == "gunicorn":
                for workers in WEB_WORKERS:
                    command = [
                        str(ROOT / ".venv" / "bin" / "gunicorn"),
                        "reviewer.wsgi:application",
                        "--bind=127.0.0.1:{port}",
                        "--worker-class=gthread",
                        f"--workers={workers or 2}",
                        "--threads=4",
                        "--keep-alive=5",
                        "--access-logfile=-",
                    ]
                    servers.append(Server(f"gunicorn gthread -w {workers or 2}", command, env, workdir))
            elif kind == "runserver":
                dev = {**env, "DATABASE_CONN_MAX_AGE": "0"}
                command = [sys.executable, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
                servers.append(Server("runserver", command, dev, workdir))
            else:
                sys.exit(f"unknown server {kind!r} in BENCH_SERVERS (serve, gunicorn, runserver)")
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(
            f"machine: {os.cpu_count()} cores, load average {' '.join(load)} before the run; {USERS} closed-loop "
            f"clients (started at {SPAWN_RATE}/s), {SECONDS} s each; fleet {CONNECTIONS} connections, "
            f"{CONNECTIONS * STATUS_MINUTES:,} probe results, {HISTORY_EXECUTIONS + 100 + RUNNING:,} executions"
        )
        results = {}
        for server in servers:
            print(f"measuring {server.label} ...", file=sys.stderr, flush=True)
            speed = reference_loop_seconds()
            results[server.label] = measure(server, cluster, token, ids, workdir)
            report(server.label, results[server.label])
            print(
                f"  machine speed: a reference loop took {speed:.2f} s of CPU before, {reference_loop_seconds():.2f} s after"
            )
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
