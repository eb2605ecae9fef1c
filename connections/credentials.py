"""Where a connection's database credentials come from.

- `vault_path`: a KV v2 secret (keys `username`, `password`), first segment is the mount.
- `vault_database_role`: dynamic credentials from Vault's database secrets engine.
- neither: the connection's `username` and libpq's own sources (~/.pgpass, PGPASSWORD,
  service file, trust) — whether or not Vault is configured.

Passwords live only in this process's memory; they are never logged, cached in Redis,
stored, or put into an exception message.
"""

from __future__ import annotations

from connections import vault
from connections.login import Credentials
from connections.models import Connection


def credentials_for(connection: Connection) -> Credentials:
    """The username and password to connect with; raises CredentialsUnavailable (with a
    message safe to show) when Vault cannot provide them."""
    if connection.vault_path:
        return vault.read_kv_credentials(connection.vault_path, default_username=connection.username)
    if connection.vault_database_role:
        return vault.issue_database_credentials(connection.vault_database_role)
    # libpq reads ~/.pgpass, PGPASSWORD and the service file itself when no password is given.
    return Credentials(username=connection.username or None)


def forget_credentials(connection: Connection) -> None:
    """Stop reusing cached dynamic credentials of `connection` (the database rejected them)."""
    if connection.vault_database_role:
        vault.forget_database_credentials(connection.vault_database_role)
