"""What a session logs in with, and the one error for "no credentials could be obtained".

Its own module so that every credential source (connections/vault.py, libpq's own in
connections/credentials.py) can use these types without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """What to log in with; a None password lets libpq find one itself."""

    username: str | None
    password: str | None = field(default=None, repr=False)


class CredentialsUnavailable(Exception):
    """Credentials could not be obtained; the message is safe to show (no secret in it)."""
