"""The health probe: connect to a database, read its version, time it, store the result."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.conf import settings
from django.utils import timezone

from connections.credentials import CredentialsUnavailable, credentials_for
from connections.models import Connection

logger = logging.getLogger(__name__)

# Kernel-level bound on unacknowledged data, so a peer that vanishes mid-query cannot hold a
# probe for the ~15 minutes of default TCP retransmission.
TCP_USER_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class ProbeResult:
    is_healthy: bool
    checked_at: datetime
    response_time_ms: int | None = None
    server_version: str | None = None
    error_message: str | None = None


def short_server_version(version_num: int) -> str:
    """libpq's integer version as PostgreSQL prints it: 150004 -> "15.4", 90624 -> "9.6.24"."""
    if version_num >= 100000:
        return f"{version_num // 10000}.{version_num % 10000}"
    return f"{version_num // 10000}.{version_num // 100 % 100}.{version_num % 100}"


_SPACES = re.compile(r"\s+")


def one_line_error(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """libpq's primary message on one line, without psycopg's wrapping or any secret.

    'connection failed: connection to server at "h", port 5432 failed: FATAL:  password
    authentication failed for user "app"' becomes 'FATAL: password authentication failed for
    user "app"'; hints on following lines are dropped.
    """
    text = str(exc).strip() or type(exc).__name__
    if text.startswith("Multiple connection attempts failed"):
        # psycopg lists one failure per address; the last one is the most specific.
        attempts = [line for line in text.splitlines() if line.strip().startswith("- ")]
        if attempts:
            text = attempts[-1].strip()[2:]
            text = re.sub(r"^host: '[^']*', port: '?[^']*'?, hostaddr: '[^']*':\s*", "", text)
    text = text.splitlines()[0] if text else text
    text = re.sub(r"^connection failed:\s*", "", text)
    for severity in ("PANIC:", "FATAL:", "ERROR:"):
        if severity in text:
            text = text[text.index(severity) :]
            break
    text = _SPACES.sub(" ", text).strip()
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def probe(connection: Connection) -> ProbeResult:
    """Connect with a bounded deadline and read the server version. Never raises for a
    database or credentials problem: those are an unhealthy result."""
    try:
        credentials = credentials_for(connection)
    except CredentialsUnavailable as exc:
        return ProbeResult(is_healthy=False, checked_at=timezone.now(), error_message=str(exc))

    timeout = connection.connect_timeout or settings.PROBE_DEFAULT_CONNECT_TIMEOUT
    params = {
        "host": connection.host,
        "port": connection.port,
        "dbname": connection.database,
        "user": credentials.username,
        "password": credentials.password,
        "connect_timeout": timeout,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        "application_name": settings.PROBE_APPLICATION_NAME,
        "sslmode": connection.sslmode or "prefer",
        "sslrootcert": connection.sslrootcert or None,
        # The one query below must not outlive the probe's deadline on a stuck server.
        "options": f"-c statement_timeout={timeout * 1000}",
    }
    params = {key: value for key, value in params.items() if value is not None}
    started = time.monotonic()
    try:
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
            version = short_server_version(conn.info.server_version)
    except (psycopg.Error, OSError) as exc:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        message = one_line_error(exc, secrets=(credentials.password,))
        logger.info("probe of connection %s failed after %d ms: %s", connection.id, elapsed_ms, message)
        return ProbeResult(
            is_healthy=False, checked_at=timezone.now(), response_time_ms=elapsed_ms, error_message=message
        )
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return ProbeResult(is_healthy=True, checked_at=timezone.now(), response_time_ms=elapsed_ms, server_version=version)
