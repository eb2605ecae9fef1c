"""Checks of the server_settings area."""

from __future__ import annotations

from tasks.reviews.database.check import Check

CHECKS: list[Check] = []
