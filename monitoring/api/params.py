"""Query and path parameters of the API, validated strictly.

`limit` takes decimal digits only, at least 1, capped at API_LIMIT_MAX. Ids are integers; an
id that no row can have (beyond a 64-bit integer) simply matches nothing, and a malformed
one is a 400 (query) or a 404 (path). Every error names the parameter and what it takes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

# ASCII digits only: str.isdigit() would also take "²" and "١٢", and int() would take
# "+5", " 5" and "5_0".
_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")
_BIGINT = 2**63 - 1
_BIGINT_DIGITS = len(str(_BIGINT))
# Ids count from 1 on every backend, so 0 is an id no row has: a query for it is cheap and
# empty, where a number beyond 64 bits would be refused by the database (SQLite) outright.
NO_SUCH_ID = 0
CATEGORY = re.compile(r"[a-z0-9_]{1,50}")


def _to_id(digits: str) -> int:
    """An integer id; one that cannot exist becomes NO_SUCH_ID. Checks the length before
    converting, so a 5,000-digit id costs nothing (and never hits Python's int-string limit)."""
    if len(digits.lstrip("-")) > _BIGINT_DIGITS:
        return NO_SUCH_ID
    value = int(digits)
    return value if -_BIGINT - 1 <= value <= _BIGINT else NO_SUCH_ID


def path_id(raw: str) -> int:
    """An id from the URL (the route already took ASCII digits only)."""
    return _to_id(raw)


def parse_limit(request: Request, default: int) -> int:
    """`limit`: decimal digits, at least 1; above API_LIMIT_MAX it is capped, not refused."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not raw.strip("0"):
        raise ParseError(f"limit must be a whole number of at least 1, not {_shown(raw)}.")
    if len(raw.lstrip("0")) > len(str(settings.API_LIMIT_MAX)):
        return settings.API_LIMIT_MAX
    return min(int(raw), settings.API_LIMIT_MAX)


def parse_id(request: Request, name: str) -> int | None:
    """An integer id parameter, or absent; an id nothing has simply matches nothing."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _INTEGER.fullmatch(raw):
        raise ParseError(f"{name} must be an integer, not {_shown(raw)}.")
    return _to_id(raw)


def parse_choice(request: Request, name: str, choices: list[str]) -> str | None:
    """A parameter that must be one of `choices`, or absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise ParseError(f"{name} must be one of {', '.join(choices)}, not {_shown(raw)}.")
    return raw


def parse_category(request: Request) -> str | None:
    """`category`: a finding category name (lower case, digits, underscores), or absent."""
    raw = request.query_params.get("category")
    if raw is not None and not CATEGORY.fullmatch(raw):
        raise ParseError(f"category must be a category name such as deadlock or slow_query, not {_shown(raw)}.")
    return raw


# Date and time, optional fraction, optional zone: "2024-01-01T02:00:00Z", "...+00:00".
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?")


def parse_since(request: Request) -> datetime | None:
    """`since`: an ISO 8601 time (UTC when it names no zone), or absent."""
    raw = request.query_params.get("since")
    if raw is None:
        return None
    try:
        if not _ISO_TIME.fullmatch(raw):
            raise ValueError
        moment = datetime.fromisoformat(raw)
        # A time near the ends of the calendar can overflow when moved to UTC.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ParseError(f"since must be an ISO 8601 time such as 2024-01-01T02:00:00Z, not {_shown(raw)}.") from None


def _shown(raw: str, length: int = 60) -> str:
    """The bad value as the error repeats it: quoted, and cut short (it may be huge)."""
    return repr(raw) if len(raw) <= length else repr(raw[:length]) + "…"
