"""Vault (or OpenBao) client: token or AppRole auth, KV v2 secrets, database engine leases."""

from __future__ import annotations

from connections.credentials import Credentials, CredentialsUnavailable


def read_kv_credentials(path: str, default_username: str = "") -> Credentials:
    raise CredentialsUnavailable("Vault: not configured")


def issue_database_credentials(role_path: str) -> Credentials:
    raise CredentialsUnavailable("Vault: not configured")
