"""The health probe: connect to a database, read its version, time it, store the result."""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from connections.credentials import credentials_for, forget_credentials
from connections.login import CredentialsUnavailable
from connections.models import Connection
from connections.session import connect_params

logger = logging.getLogger(__name__)


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


class _Watchdog:
    """Shuts a connection's socket down if the probe is still waiting after `seconds`.

    libpq's connect_timeout bounds only the connection attempt. A server that completed the
    handshake and then froze answers neither the query nor a cancel request, and its kernel
    still ACKs, so no TCP timeout fires either; shutting the socket down from this timer
    thread makes the blocked read fail at once.
    """

    def __init__(self, conn: psycopg.Connection, seconds: float) -> None:
        self.fired = threading.Event()
        self._timer = threading.Timer(seconds, self._fire, args=(conn,))
        self._timer.daemon = True

    def _fire(self, conn: psycopg.Connection) -> None:
        self.fired.set()
        try:
            with socket.socket(fileno=os.dup(conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, psycopg.Error):
            pass  # already closed: nothing left to unblock

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


def _is_rejected_login(message: str) -> bool:
    return message.startswith("FATAL:") and (
        "authentication failed" in message or ("role" in message and "does not exist" in message)
    )


def probe(connection: Connection) -> ProbeResult:
    """Connect with a bounded deadline and read the server version. Never raises for a
    database or credentials problem: those are an unhealthy result.

    `response_time_ms` covers connecting and reading the version, not fetching credentials.
    """
    try:
        credentials = credentials_for(connection)
    except SoftTimeLimitExceeded:
        raise  # the run's time limit, not a credentials problem: the runner reports it
    except CredentialsUnavailable as exc:
        logger.info("probe of connection %s: %s", connection.id, exc)
        return ProbeResult(is_healthy=False, checked_at=timezone.now(), error_message=str(exc))
    except Exception as exc:  # a bug must give an unhealthy probe, not a 500 or a dead task
        logger.error("probe of connection %s: credentials failed with %s", connection.id, type(exc).__name__)
        return ProbeResult(
            is_healthy=False, checked_at=timezone.now(), error_message=f"credentials: {type(exc).__name__}"
        )

    timeout = connection.connect_timeout or settings.PROBE_DEFAULT_CONNECT_TIMEOUT
    params = connect_params(connection, credentials, statement_timeout_s=timeout)
    started = time.monotonic()
    watchdog: _Watchdog | None = None
    try:
        with psycopg.connect(**params, autocommit=True) as conn, _Watchdog(conn, timeout) as watchdog:
            conn.execute("SELECT 1").fetchone()
            version = short_server_version(conn.info.server_version)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if watchdog is not None and watchdog.fired.is_set():
            message = f"timeout expired: no answer from the server {timeout} s after connecting"
        else:
            message = one_line_error(exc, secrets=(credentials.password,))
        if connection.vault_database_role and _is_rejected_login(message):
            # The cached lease's user was revoked or dropped: the next probe gets a new one.
            forget_credentials(connection)
        logger.info("probe of connection %s failed after %d ms: %s", connection.id, elapsed_ms, message)
        return ProbeResult(
            is_healthy=False, checked_at=timezone.now(), response_time_ms=elapsed_ms, error_message=message
        )
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return ProbeResult(is_healthy=True, checked_at=timezone.now(), response_time_ms=elapsed_ms, server_version=version)
