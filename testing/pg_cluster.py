"""Throwaway PostgreSQL clusters (initdb on a free port) for tests that need their own
server settings: password authentication that is really checked, a log collector, etc."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from testing.network import free_port


def pg_bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        raise RuntimeError(f"{name} not found under /usr/lib/postgresql/*/bin (install postgresql)")
    return candidates[0]


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PgCluster:
    """A private PostgreSQL server: `superuser` is `postgres` with `superuser_password`."""

    superuser = "postgres"
    superuser_password = "postgres-test-pw"

    def __init__(self, auth: str = "scram-sha-256", settings: dict[str, str] | None = None) -> None:
        self.auth = auth
        self.settings = settings or {}
        self.port = free_port()
        self.host = "127.0.0.1"
        self.root = Path(tempfile.mkdtemp(prefix="reviewer-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"

    def start(self) -> PgCluster:
        os.chmod(self.root, 0o777)
        pwfile = self.root / "pw"
        pwfile.write_text(self.superuser_password + "\n")
        os.chmod(pwfile, 0o644)
        subprocess.run(
            _as_postgres(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    self.superuser,
                    f"--pwfile={pwfile}",
                    "-A",
                    self.auth,
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        pwfile.unlink()
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "max_connections": "50",
            **self.settings,
        }
        with open(self.datadir / "postgresql.conf", "a") as fh:
            for key, value in conf.items():
                fh.write(f"{key} = {value}\n")
        subprocess.run(
            _as_postgres(
                [pg_bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start"]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        return self

    def restart(self, mode: str = "fast") -> None:
        """Restart on the same port; `mode` is pg_ctl's shutdown mode (fast: sessions are told
        and closed; immediate: the server stops at once, as in a crash)."""
        subprocess.run(
            _as_postgres(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "60",
                    "restart",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        params = dict(
            host=self.host,
            port=self.port,
            dbname=dbname,
            user=self.superuser,
            password=self.superuser_password,
            connect_timeout=10,
            autocommit=True,
        )
        params.update(kwargs)
        return psycopg.connect(**params)

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        with self.connect(dbname) as conn:
            conn.execute(sql)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
