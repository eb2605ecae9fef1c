"""Fixtures for probe and credential tests: a real OpenBao dev server in front of the
scram-sha-256 cluster, and login roles on that cluster."""

from __future__ import annotations

import uuid

import pytest

from testing.vault_server import VaultServer


@pytest.fixture(scope="session")
def vault_server():
    """One `bao server -dev` for the session; tests that seal a server start their own."""
    server = VaultServer().start()
    yield server
    server.stop()


@pytest.fixture
def use_vault(settings, vault_server):
    """Point the service at the test Vault with its root token; returns the server."""
    settings.VAULT_ADDR = vault_server.addr
    settings.VAULT_TOKEN = vault_server.root_token
    settings.VAULT_ROLE_ID = ""
    settings.VAULT_SECRET_ID = ""
    settings.VAULT_NAMESPACE = ""
    settings.VAULT_TIMEOUT_SECONDS = 5
    return vault_server


@pytest.fixture
def login_role(scram_cluster):
    """A fresh login role on the scram cluster: returns (name, password)."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    scram_cluster.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    yield name, password
    scram_cluster.execute(f"DROP ROLE IF EXISTS {name}")
