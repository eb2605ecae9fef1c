"""Fixtures for the console's tests. "Check now" probes real servers here, so these tests get
the isolation the probe tests in connections/tests have: no Vault state left by another test,
and no password libpq could find on the machine."""

from __future__ import annotations

import pytest

from connections import vault


@pytest.fixture(autouse=True)
def _fresh_vault_session():
    """The vault module caches its client, token and leases per process: no test sees another's."""
    vault.reset()
    yield
    vault.reset()


@pytest.fixture(autouse=True)
def _no_ambient_libpq_password(monkeypatch, tmp_path):
    """libpq must find only the passwords a test gives it, not the machine's ~/.pgpass."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
