"""Opening a database session on a connection under review, the same way everywhere.

Keyword arguments, never a conninfo string built by hand: a password or host with a quote
or a space in it cannot change the meaning of the other parameters.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings

from connections.credentials import credentials_for
from connections.login import Credentials
from connections.models import Connection

# Kernel-level bound on unacknowledged data, so a peer that vanishes mid-query cannot hold a
# session for the ~15 minutes of default TCP retransmission.
TCP_USER_TIMEOUT_MS = 10_000


def connect_params(
    connection: Connection,
    credentials: Credentials,
    statement_timeout_s: int,
    *,
    database: str | None = None,
    server_settings: dict[str, str] | None = None,
    application_name: str | None = None,
) -> dict[str, Any]:
    """libpq parameters for a session whose statements are bounded by `statement_timeout_s`,
    on `database` (default: the connection's own) with extra `server_settings` (-c options)."""
    options = {"statement_timeout": str(statement_timeout_s * 1000), **(server_settings or {})}
    params = {
        "host": connection.host,
        "port": connection.port,
        "dbname": database or connection.database,
        "user": credentials.username,
        "password": credentials.password,
        "connect_timeout": connection.connect_timeout or settings.PROBE_DEFAULT_CONNECT_TIMEOUT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "application_name": application_name or settings.PROBE_APPLICATION_NAME,
        "sslmode": connection.sslmode or "prefer",
        "sslrootcert": connection.sslrootcert or None,
        # Values are numbers and setting words written by this code, never user text.
        "options": " ".join(f"-c {key}={value}" for key, value in options.items()),
    }
    return {key: value for key, value in params.items() if value is not None}


def open_session(connection: Connection, statement_timeout_s: int, **kwargs: Any) -> psycopg.Connection:
    """An autocommit session with the connection's credentials (kwargs: see connect_params).

    Raises CredentialsUnavailable or psycopg.Error; callers turn them into their own outcome.
    """
    credentials = credentials_for(connection)
    return psycopg.connect(**connect_params(connection, credentials, statement_timeout_s, **kwargs), autocommit=True)
