"""Query parameters of the list endpoints, validated strictly (contract.md, "Parameters")."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from tasks.models import ExecutionStatus

# ASCII digits only: str.isdigit() would also take "²" and "١٢", and int() would take
# "+5", " 5" and "5_0".
_DIGITS = re.compile(r"[0-9]+")
_INTEGER = re.compile(r"-?[0-9]+")
_BIGINT = 2**63 - 1


def fits_in_bigint(value: int) -> bool:
    """Whether an id could exist at all: SQLite refuses larger numbers in a query outright."""
    return -_BIGINT - 1 <= value <= _BIGINT


def parse_limit(request: Request, default: int) -> int:
    """`limit`: decimal digits, at least 1; above API_LIMIT_MAX it is capped, not refused."""
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise ParseError(f"limit must be a whole number of at least 1, not {raw!r}.")
    return min(int(raw), settings.API_LIMIT_MAX)


def parse_task_id(request: Request) -> int | None:
    """`task_id`: an integer or absent; an id no task has simply matches nothing."""
    return parse_id(request, "task_id")


def parse_id(request: Request, name: str) -> int | None:
    """An integer id parameter, or absent; an id nothing has simply matches nothing."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not _INTEGER.fullmatch(raw):
        raise ParseError(f"{name} must be an integer, not {raw!r}.")
    return int(raw)


def parse_choice(request: Request, name: str, choices: list[str]) -> str | None:
    """A parameter that must be one of `choices`, or absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise ParseError(f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
    return raw


def parse_status(request: Request) -> str | None:
    """`status`: one of the execution statuses, or absent."""
    return parse_choice(request, "status", [value for value, _ in ExecutionStatus.choices])


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
    except ValueError:
        raise ParseError(f"since must be an ISO 8601 time such as 2024-01-01T02:00:00Z, not {raw!r}.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
