"""Vault (or OpenBao) client: token or AppRole auth, KV v2 secrets, database engine leases.

One `VaultSession` per process and configuration. It is rebuilt whenever the Vault settings
change (tests point them at their own server) or the process forks (a Celery prefork child must
not share its parent's HTTP connections), so settings are always read at call time.

Every failure becomes `CredentialsUnavailable` with a one-line message that names the Vault
path but never a token, a secret ID or a secret value: the message ends up in the probe's
`error_message`, the API and the logs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import hvac
import hvac.exceptions
import requests
from django.conf import settings

from connections.login import Credentials, CredentialsUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class VaultConfig:
    """The Vault settings of this process (secrets kept out of repr)."""

    addr: str
    token: str = field(default="", repr=False)
    role_id: str = field(default="", repr=False)
    secret_id: str = field(default="", repr=False)
    namespace: str = ""
    cacert: str = ""
    timeout: int = 5
    approle_mount: str = "approle"

    @classmethod
    def from_settings(cls) -> VaultConfig | None:
        """None when VAULT_ADDR is unset: Vault is not in use."""
        addr = (getattr(settings, "VAULT_ADDR", "") or "").strip()
        if not addr:
            return None
        return cls(
            addr=addr.rstrip("/"),
            token=getattr(settings, "VAULT_TOKEN", "") or "",
            role_id=getattr(settings, "VAULT_ROLE_ID", "") or "",
            secret_id=getattr(settings, "VAULT_SECRET_ID", "") or "",
            namespace=getattr(settings, "VAULT_NAMESPACE", "") or "",
            cacert=getattr(settings, "VAULT_CACERT", "") or "",
            timeout=int(getattr(settings, "VAULT_TIMEOUT_SECONDS", 5) or 5),
            approle_mount=settings.VAULT_APPROLE_MOUNT,
        )

    @property
    def uses_approle(self) -> bool:
        return bool(self.role_id and self.secret_id)

    @property
    def display_addr(self) -> str:
        """The address without any user:password@ part, for messages."""
        parts = urlsplit(self.addr)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.role_id, self.secret_id) if s)


def split_mount(path: str) -> tuple[str, str]:
    """`secret/reviewer/prod-db` -> (`secret`, `reviewer/prod-db`): the first segment is the mount."""
    segments = [s for s in path.strip().strip("/").split("/") if s]
    if len(segments) < 2:
        raise CredentialsUnavailable(f"Vault: {path!r} needs a mount and a path, e.g. secret/reviewer/prod-db")
    return segments[0], "/".join(segments[1:])


def renewal_margin(ttl: float) -> float:
    """How long before expiry a token or lease is replaced: 10% of its life, at least 30 s,
    but never more than half of it (so a short lease is still reused for a while)."""
    return min(ttl / 2, max(30.0, ttl / 10))


@dataclass(frozen=True)
class _Lease:
    credentials: Credentials
    lease_id: str
    expires_at: float  # time.monotonic()
    margin: float

    def is_fresh(self) -> bool:
        return time.monotonic() < self.expires_at - self.margin


class VaultSession:
    """An authenticated hvac client plus the dynamic-credential leases it holds.

    Thread-safe: probes may run concurrently in threads. Locks are held across Vault calls on
    purpose (one AppRole login, one lease per role at a time); every call is bounded by the
    configured timeout, so a lock is never held forever.
    """

    def __init__(self, config: VaultConfig) -> None:
        self.config = config
        self.pid = os.getpid()
        self.client = hvac.Client(
            url=config.addr,
            # An empty string, not None: hvac would fall back to VAULT_TOKEN / ~/.vault-token.
            token=config.token if not config.uses_approle else "",
            namespace=config.namespace or None,
            verify=config.cacert or True,
            timeout=config.timeout,
        )
        self._auth_lock = threading.Lock()
        self._token_expires_at: float | None = None  # None: not logged in (AppRole) or no expiry
        self._leases: dict[str, _Lease] = {}
        self._leases_lock = threading.Lock()
        self._role_locks: dict[str, threading.Lock] = {}

    # --- authentication ---------------------------------------------------------------------

    def _ensure_token(self) -> None:
        if not self.config.uses_approle:
            if not self.config.token:
                raise CredentialsUnavailable(
                    "Vault: no credentials configured (set VAULT_TOKEN or VAULT_ROLE_ID and VAULT_SECRET_ID)"
                )
            return
        with self._auth_lock:
            if self.client.token and self._token_expires_at is not None and time.monotonic() < self._token_expires_at:
                return
            self._login()

    def _login(self) -> None:
        """AppRole login; remembers when to log in again (before the token expires)."""
        try:
            response = self.client.auth.approle.login(
                role_id=self.config.role_id,
                secret_id=self.config.secret_id,
                mount_point=self.config.approle_mount,
                use_token=True,
            )
            ttl = float(response["auth"].get("lease_duration") or 0)
        except CredentialsUnavailable:
            raise
        except Exception as exc:
            self.client.token = ""
            raise CredentialsUnavailable(self._describe(exc, "logging in with AppRole", login=True)) from None
        # ttl 0 means the token does not expire; otherwise log in again a little before it does.
        self._token_expires_at = float("inf") if ttl <= 0 else time.monotonic() + ttl - renewal_margin(ttl)
        logger.info("Vault: logged in with AppRole, token valid for %d s", ttl)

    def _forget_token(self, failed_token: str) -> None:
        with self._auth_lock:
            # Only if no other thread has logged in again meanwhile.
            if self.client.token == failed_token:
                self.client.token = ""
                self._token_expires_at = None

    def _call(self, request: Callable[[], T], action: str) -> T:
        """Run one Vault request, authenticated, with errors made into CredentialsUnavailable.

        A 403 with an AppRole token can mean the token expired or was revoked under us:
        log in again once and retry before calling it a permission problem.
        """
        self._ensure_token()
        token = self.client.token
        try:
            return request()
        except hvac.exceptions.Forbidden as exc:
            if not self.config.uses_approle:
                raise CredentialsUnavailable(self._describe(exc, action)) from None
        except CredentialsUnavailable:
            raise
        except Exception as exc:
            raise CredentialsUnavailable(self._describe(exc, action)) from None
        self._forget_token(token)
        self._ensure_token()
        try:
            return request()
        except Exception as exc:
            raise CredentialsUnavailable(self._describe(exc, action)) from None

    # --- secrets -----------------------------------------------------------------------------

    def read_kv(self, path: str, default_username: str = "") -> Credentials:
        mount, subpath = split_mount(path)
        response = self._call(
            lambda: self.client.secrets.kv.v2.read_secret_version(
                path=subpath, mount_point=mount, raise_on_deleted_version=True
            ),
            f"reading {path}",
        )
        try:
            data = response["data"]["data"] or {}
        except (KeyError, TypeError):
            raise CredentialsUnavailable(f"Vault: unexpected response reading {path} (is it a KV v2 mount?)") from None
        password = data.get("password")
        if not isinstance(password, str) or not password:
            raise CredentialsUnavailable(f"Vault: secret at {path} has no password")
        username = data.get("username") or default_username
        if not isinstance(username, str) or not username:
            raise CredentialsUnavailable(f"Vault: secret at {path} has no username and the connection names none")
        return Credentials(username=username, password=password)

    def issue_database_credentials(self, role_path: str) -> Credentials:
        """Dynamic credentials for a database engine role, reused until near the lease's end."""
        mount, role = split_mount(role_path)
        with self._leases_lock:
            role_lock = self._role_locks.setdefault(role_path, threading.Lock())
        # One issuer per role: concurrent probes wait for the lease instead of each creating a user.
        with role_lock:
            lease = self._leases.get(role_path)
            if lease is not None and lease.is_fresh():
                return lease.credentials
            response = self._call(
                lambda: self.client.secrets.database.generate_credentials(name=role, mount_point=mount),
                f"reading {role_path}",
            )
            try:
                data = response["data"]
                username, password = data["username"], data["password"]
                ttl = float(response.get("lease_duration") or 0)
                lease_id = response.get("lease_id") or ""
            except (KeyError, TypeError):
                raise CredentialsUnavailable(f"Vault: unexpected response reading {role_path}") from None
            credentials = Credentials(username=username, password=password)
            if ttl > 0:
                self._leases[role_path] = _Lease(credentials, lease_id, time.monotonic() + ttl, renewal_margin(ttl))
            logger.info("Vault: new lease for %s (user %s, %d s)", role_path, username, ttl)
            return credentials

    def forget_database_credentials(self, role_path: str) -> None:
        with self._leases_lock:
            self._leases.pop(role_path, None)

    # --- messages ----------------------------------------------------------------------------

    def _describe(self, exc: BaseException, action: str, login: bool = False) -> str:
        """A one-line, secret-free sentence for a failed Vault request."""
        config = self.config
        if isinstance(exc, requests.exceptions.Timeout) or _timed_out(exc):
            return f"Vault: timed out after {config.timeout} s"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"Vault: TLS error connecting to {config.display_addr}"
        if isinstance(exc, requests.exceptions.ConnectionError):
            return f"Vault: unreachable at {config.display_addr} ({_connection_reason(exc)})"
        if isinstance(exc, requests.exceptions.RequestException):
            return f"Vault: request to {config.display_addr} failed ({type(exc).__name__})"
        if isinstance(exc, hvac.exceptions.VaultError):
            detail = self._vault_detail(exc)
            if isinstance(exc, hvac.exceptions.VaultDown):
                return "Vault: sealed" if "sealed" in detail.lower() else f"Vault: unavailable ({detail or 'HTTP 503'})"
            if isinstance(exc, hvac.exceptions.VaultNotInitialized):
                return "Vault: not initialized"
            if isinstance(exc, hvac.exceptions.Forbidden):
                return f"Vault: permission denied {action}"
            if isinstance(exc, hvac.exceptions.InvalidPath):
                if login:
                    return f"Vault: no AppRole auth method at {config.approle_mount}/"
                return f"Vault: no secret at {action.removeprefix('reading ')}"
            if isinstance(exc, hvac.exceptions.RateLimitExceeded):
                return "Vault: rate limit exceeded"
            verb = "AppRole login failed" if login else f"error {action}"
            return f"Vault: {verb} ({detail or type(exc).__name__})"
        return f"Vault: error {action} ({type(exc).__name__})"

    def _vault_detail(self, exc: hvac.exceptions.VaultError) -> str:
        """Vault's own error text, one line, with any configured secret blanked out."""
        errors = exc.errors if isinstance(exc.errors, list) else [exc.errors] if exc.errors else []
        text = "; ".join(str(e) for e in errors if e) or ""
        text = " ".join(text.split())
        for secret in (*self.config.secrets, self.client.token or ""):
            if secret:
                text = text.replace(secret, "********")
        return text[:300]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (requests nests urllib3 errors in args)."""
    seen: list[BaseException] = []
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return seen


def _timed_out(exc: BaseException) -> bool:
    return any(isinstance(e, TimeoutError) or "timed out" in str(e).lower() for e in _chain(exc))


_REASONS = (
    ("connection refused", "connection refused"),
    ("name or service not known", "name not resolved"),
    ("temporary failure in name resolution", "name not resolved"),
    ("nodename nor servname", "name not resolved"),
    ("no route to host", "no route to host"),
    ("network is unreachable", "network unreachable"),
    ("connection reset", "connection reset"),
    ("remote end closed connection", "connection closed by server"),
    ("connection aborted", "connection closed by server"),
)


def _connection_reason(exc: BaseException) -> str:
    for item in _chain(exc):
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
    text = " ".join(str(e) for e in _chain(exc)).lower()
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return "connection failed"


# --- the per-process session -----------------------------------------------------------------

_session: VaultSession | None = None
_session_lock = threading.Lock()


def current_session(purpose: str) -> VaultSession:
    """This process's session for the current settings; `purpose` names what needs Vault."""
    config = VaultConfig.from_settings()
    if config is None:
        raise CredentialsUnavailable(f"Vault: not configured (VAULT_ADDR is unset) but the connection uses {purpose}")
    global _session
    with _session_lock:
        if _session is None or _session.config != config or _session.pid != os.getpid():
            _session = VaultSession(config)
        return _session


def reset() -> None:
    """Drop the cached client, token and leases (tests; a configuration reload)."""
    global _session
    with _session_lock:
        _session = None


def read_kv_credentials(path: str, default_username: str = "") -> Credentials:
    """Username and password from the KV v2 secret at `path` (first segment = mount)."""
    return current_session(f"vault_path {path}").read_kv(path, default_username)


def issue_database_credentials(role_path: str) -> Credentials:
    """Credentials from the database secrets engine role `role_path` (first segment = mount),
    cached in this process's memory until near the end of their lease."""
    return current_session(f"vault_database_role {role_path}").issue_database_credentials(role_path)


def forget_database_credentials(role_path: str) -> None:
    """Stop reusing the cached lease of `role_path` (its user was rejected by the database)."""
    config = VaultConfig.from_settings()
    with _session_lock:
        session = _session
    if session is not None and config is not None and session.config == config:
        session.forget_database_credentials(role_path)
