"""Who may call the monitoring API (docs/api.md, "Access")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ReadableByPolicy(BasePermission):
    """Reads need a user unless REVIEWER_PUBLIC_READ; actions need the view's permission.

    A view that acts declares `required_permission` ("tasks.run_task"). Anonymous callers
    that are refused get 401 (token authentication offers a WWW-Authenticate challenge),
    authenticated ones 403. A method the view does not implement is let through so that
    DRF answers 405, rather than a misleading 401/403.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not hasattr(view, request.method.lower()):
            return True
        if request.method in SAFE_METHODS:
            # Read at request time, not import time, so the setting can change in tests.
            return bool(settings.REVIEWER_PUBLIC_READ) or request.user.is_authenticated
        required = getattr(view, "required_permission", None)
        return bool(required and request.user.is_authenticated and request.user.has_perm(required))
