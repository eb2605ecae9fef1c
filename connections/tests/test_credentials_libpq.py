"""A connection with neither vault field uses its username and libpq's own password sources
(PGPASSWORD, ~/.pgpass), whether or not Vault is configured."""

from __future__ import annotations

import pytest

from connections.probe import probe
from connections.tests.factories import ConnectionFactory


@pytest.fixture(params=["without Vault", "with Vault configured"])
def vault_or_not(request, settings):
    if request.param == "with Vault configured":
        request.getfixturevalue("use_vault")
    else:
        settings.VAULT_ADDR = ""


def test_it_uses_pgpassword(scram_cluster, login_role, monkeypatch, vault_or_not):
    name, password = login_role
    monkeypatch.setenv("PGPASSWORD", password)

    result = probe(ConnectionFactory.build(port=scram_cluster.port, username=name))

    assert result.is_healthy, result.error_message


def test_it_uses_the_pgpass_file(scram_cluster, login_role, monkeypatch, tmp_path, vault_or_not):
    name, password = login_role
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{scram_cluster.port}:*:{name}:{password}\n")
    pgpass.chmod(0o600)  # libpq ignores a file others can read
    monkeypatch.setenv("PGPASSFILE", str(pgpass))

    result = probe(ConnectionFactory.build(port=scram_cluster.port, username=name))

    assert result.is_healthy, result.error_message


def test_it_reports_that_libpq_found_no_password(scram_cluster, login_role):
    name, _ = login_role

    result = probe(ConnectionFactory.build(port=scram_cluster.port, username=name))

    assert not result.is_healthy
    assert result.error_message.endswith("fe_sendauth: no password supplied")
