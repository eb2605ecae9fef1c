"""Credentials from a real OpenBao server in front of the scram-sha-256 cluster: KV v2,
AppRole, the database secrets engine, and every way Vault can fail."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

from connections import vault
from connections.probe import probe
from connections.tests.factories import ConnectionFactory
from testing.network import free_port
from testing.vault_server import VaultServer

MARGIN_SECONDS = 13
CREATE_ROLE = [
    """CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';""",
    """GRANT pg_monitor TO "{{name}}";""",
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def kv_connection(scram_cluster, use_vault, login_role):
    """A connection whose credentials are a KV v2 secret holding the right password."""
    name, password = login_role
    path = f"secret/{unique('reviewer')}/db"
    use_vault.put_secret(path, username=name, password=password)
    return ConnectionFactory.build(port=scram_cluster.port, username="", vault_path=path)


def assert_unhealthy_without_secrets(result, *secrets: str) -> None:
    assert not result.is_healthy
    assert "\n" not in result.error_message
    for secret in secrets:
        assert secret not in result.error_message


# --- KV v2 -----------------------------------------------------------------------------------


def test_it_logs_in_with_the_password_from_a_kv_secret(kv_connection):
    result = probe(kv_connection)

    assert result.is_healthy, result.error_message


def test_it_takes_the_username_from_the_connection_when_the_secret_has_none(scram_cluster, use_vault, login_role):
    name, password = login_role
    path = f"secret/{unique('reviewer')}/db"
    use_vault.put_secret(path, password=password)

    result = probe(ConnectionFactory.build(port=scram_cluster.port, username=name, vault_path=path))

    assert result.is_healthy, result.error_message


def test_it_reports_a_wrong_password_in_vault_as_an_authentication_failure(
    scram_cluster, use_vault, login_role, caplog
):
    name, _ = login_role
    path = f"secret/{unique('reviewer')}/db"
    use_vault.put_secret(path, username=name, password="wrong-password-from-vault")
    caplog.set_level(logging.DEBUG)

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path=path))

    assert result.error_message == f'FATAL: password authentication failed for user "{name}"'
    assert_unhealthy_without_secrets(result, "wrong-password-from-vault", use_vault.root_token)
    assert "wrong-password-from-vault" not in caplog.text
    assert use_vault.root_token not in caplog.text


def test_it_passes_a_password_with_quotes_and_spaces_as_it_is(scram_cluster, use_vault):
    name = f"app_{uuid.uuid4().hex[:8]}"
    password = 'it\'s a "pass" word host=elsewhere port=1 \\ '
    scram_cluster.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password.replace(chr(39), chr(39) * 2)}'")
    path = f"secret/{unique('reviewer')}/db"
    use_vault.put_secret(path, username=name, password=password)
    try:
        result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path=path))
    finally:
        scram_cluster.execute(f"DROP ROLE {name}")

    assert result.is_healthy, result.error_message


def test_it_reports_a_secret_without_a_password(scram_cluster, use_vault):
    path = f"secret/{unique('reviewer')}/db"
    use_vault.put_secret(path, username="someone")

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path=path))

    assert result.error_message == f"Vault: secret at {path} has no password"
    assert result.response_time_ms is None


# --- AppRole ---------------------------------------------------------------------------------


@pytest.fixture
def approle(settings, use_vault):
    """Log in with an AppRole allowed to read secret/reviewer-*; tokens live 2 s."""
    use_vault.write_policy("reviewer-kv", 'path "secret/data/reviewer-*" { capabilities = ["read"] }')
    role_id, secret_id = use_vault.create_approle(unique("reviewer"), ["reviewer-kv"], token_ttl="2s")
    settings.VAULT_TOKEN = ""
    settings.VAULT_ROLE_ID = role_id
    settings.VAULT_SECRET_ID = secret_id
    return role_id, secret_id


def current_token() -> str:
    return vault.current_session("a test").client.token


def test_it_logs_in_with_approle(kv_connection, approle):
    result = probe(kv_connection)

    assert result.is_healthy, result.error_message


def test_it_logs_in_again_once_the_approle_token_expires(kv_connection, approle, use_vault):
    assert probe(kv_connection).is_healthy
    first_token = current_token()
    time.sleep(3)  # the 2 s token is now expired at the server

    result = probe(kv_connection)

    assert result.is_healthy, result.error_message
    assert current_token() != first_token
    with pytest.raises(Exception):  # noqa: B017 - any hvac error: the old token is gone
        use_vault.client(first_token).auth.token.lookup_self()


def test_it_logs_in_again_when_its_approle_token_is_revoked(kv_connection, approle, use_vault):
    assert probe(kv_connection).is_healthy
    revoked = current_token()
    use_vault.revoke_token(revoked)

    result = probe(kv_connection)

    assert result.is_healthy, result.error_message
    assert current_token() != revoked


def test_it_reports_a_rejected_approle_secret_id(kv_connection, approle, settings):
    settings.VAULT_SECRET_ID = "not-the-secret-id"

    result = probe(kv_connection)

    assert result.error_message == "Vault: AppRole login failed (invalid role or secret ID)"
    assert_unhealthy_without_secrets(result, "not-the-secret-id", approle[0])


# --- database secrets engine -----------------------------------------------------------------


@pytest.fixture
def database_role(scram_cluster, use_vault):
    """A database engine role creating real roles on the scram cluster; returns its path."""
    role = f"ro{uuid.uuid4().hex[:6]}"  # Vault keeps only the first 8 characters in usernames
    use_vault.enable_database_engine(scram_cluster, role, CREATE_ROLE, default_ttl="1h")
    return f"database/{role}"


def roles_created_for(scram_cluster, role_path: str) -> list[str]:
    role = role_path.split("/", 1)[1]
    with scram_cluster.connect() as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"v-%-{role}-%",)).fetchall()
    return [row[0] for row in rows]


def test_it_logs_in_with_a_role_the_database_engine_creates(scram_cluster, database_role):
    result = probe(ConnectionFactory.build(port=scram_cluster.port, username="", vault_database_role=database_role))

    assert result.is_healthy, result.error_message
    assert len(roles_created_for(scram_cluster, database_role)) == 1


def test_it_reuses_one_lease_for_many_probes(scram_cluster, database_role):
    connection = ConnectionFactory.build(port=scram_cluster.port, vault_database_role=database_role)
    results = [probe(connection) for _ in range(2)]
    threads = [threading.Thread(target=lambda: results.append(probe(connection))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [r.is_healthy for r in results] == [True] * 7
    assert len(roles_created_for(scram_cluster, database_role)) == 1


def test_it_gets_a_new_lease_when_the_database_rejects_the_cached_one(scram_cluster, database_role):
    connection = ConnectionFactory.build(port=scram_cluster.port, vault_database_role=database_role)
    assert probe(connection).is_healthy
    [dropped] = roles_created_for(scram_cluster, database_role)
    scram_cluster.execute(f'DROP ROLE "{dropped}"')

    rejected = probe(connection)
    recovered = probe(connection)

    assert not rejected.is_healthy
    assert rejected.error_message.startswith("FATAL: ")
    assert recovered.is_healthy, recovered.error_message
    assert roles_created_for(scram_cluster, database_role) not in ([], [dropped])


# --- Vault failures: an unhealthy probe with a clear message, never an exception -------------


def test_it_reports_a_sealed_vault(scram_cluster, settings):
    server = VaultServer().start()
    try:
        settings.VAULT_ADDR = server.addr
        settings.VAULT_TOKEN = server.root_token
        server.put_secret("secret/reviewer/prod-db", username="app", password="sealed-away")
        server.seal()

        result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path="secret/reviewer/prod-db"))
    finally:
        server.stop()

    assert result.error_message == "Vault: sealed"
    assert_unhealthy_without_secrets(result, server.root_token, "sealed-away")


def test_it_reports_a_forbidden_secret(scram_cluster, use_vault, settings):
    use_vault.put_secret("secret/reviewer/prod-db", username="app", password="top-secret")
    use_vault.write_policy("reviewer-elsewhere", 'path "secret/data/elsewhere/*" { capabilities = ["read"] }')
    token = use_vault.create_token(["reviewer-elsewhere"])
    settings.VAULT_TOKEN = token

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path="secret/reviewer/prod-db"))

    assert result.error_message == "Vault: permission denied reading secret/reviewer/prod-db"
    assert_unhealthy_without_secrets(result, token, "top-secret")


def test_it_reports_a_forbidden_database_role(scram_cluster, database_role, use_vault, settings):
    token = use_vault.create_token(["default"])
    settings.VAULT_TOKEN = token

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_database_role=database_role))

    assert result.error_message == f"Vault: permission denied reading {database_role}"
    assert_unhealthy_without_secrets(result, token)


def test_it_reports_a_missing_secret(scram_cluster, use_vault):
    path = f"secret/{unique('nothing')}/here"

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path=path))

    assert result.error_message == f"Vault: no secret at {path}"
    assert_unhealthy_without_secrets(result, use_vault.root_token)


def test_it_reports_an_unreachable_vault(scram_cluster, settings):
    port = free_port()
    settings.VAULT_ADDR = f"http://127.0.0.1:{port}"
    settings.VAULT_TOKEN = "token-for-nowhere"

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path="secret/reviewer/prod-db"))

    assert result.error_message == f"Vault: unreachable at http://127.0.0.1:{port} (connection refused)"
    assert_unhealthy_without_secrets(result, "token-for-nowhere")


def test_it_gives_up_on_a_vault_that_never_answers(scram_cluster, settings, blackhole):
    settings.VAULT_ADDR = f"http://127.0.0.1:{blackhole.port}"
    settings.VAULT_TOKEN = "token-for-a-black-hole"
    settings.VAULT_TIMEOUT_SECONDS = 2
    started = time.monotonic()

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_database_role="database/reviewer-ro"))

    assert time.monotonic() - started < 2 + MARGIN_SECONDS
    assert result.error_message == "Vault: timed out after 2 s"
    assert_unhealthy_without_secrets(result, "token-for-a-black-hole")


def test_it_gives_up_on_a_vault_that_never_answers_an_approle_login(scram_cluster, settings, blackhole):
    settings.VAULT_ADDR = f"http://127.0.0.1:{blackhole.port}"
    settings.VAULT_TOKEN = ""
    settings.VAULT_ROLE_ID = "some-role-id"
    settings.VAULT_SECRET_ID = "some-secret-id"
    settings.VAULT_TIMEOUT_SECONDS = 2
    started = time.monotonic()

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path="secret/reviewer/prod-db"))

    assert time.monotonic() - started < 2 + MARGIN_SECONDS
    assert result.error_message == "Vault: timed out after 2 s"
    assert_unhealthy_without_secrets(result, "some-secret-id")


def test_it_says_vault_is_not_configured_when_a_connection_needs_it(scram_cluster, settings):
    settings.VAULT_ADDR = ""

    result = probe(ConnectionFactory.build(port=scram_cluster.port, vault_path="secret/reviewer/prod-db"))

    assert result.error_message == (
        "Vault: not configured (VAULT_ADDR is unset) but the connection uses vault_path secret/reviewer/prod-db"
    )
