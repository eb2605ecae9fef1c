"""Every error on an API path is JSON: {"detail": "<human sentence>"}.

DRF's own exceptions are rewritten to that shape; anything unexpected becomes a logged 500
with a generic sentence (never a traceback). Django-level 404/500 (unknown paths, errors
outside DRF views) answer JSON on API paths and Django's pages elsewhere (the admin).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)

API_PREFIXES = ("/api/", "/monitoring/")
INTERNAL_ERROR = "Internal server error."
BAD_REQUEST = "Bad request: the server refused to read it (a bad Host header, or too many parameters)."
NOT_FOUND = "Not found."


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path in ("/api", "/monitoring")


def _sentence(data: Any) -> str:
    """One human sentence out of DRF's detail shapes (a string, a list or a dict of lists)."""
    if isinstance(data, dict):
        if "detail" in data:
            return _sentence(data["detail"])
        return " ".join(f"{key}: {_sentence(value)}" for key, value in data.items())
    if isinstance(data, list | tuple):
        return " ".join(_sentence(item) for item in data)
    return str(data)


def json_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: DRF's answer in the {"detail"} shape, or a JSON 500."""
    if isinstance(exc, SuspiciousOperation):
        # A request Django refuses to read (too many parameters, a bad Host): the client's
        # fault, said in one sentence, never a 500.
        return Response({"detail": BAD_REQUEST}, status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is None:
        # Not an API exception: a bug or a failing dependency. The traceback goes to the log,
        # the client gets a sentence; the request's transaction (if any) is rolled back.
        logger.error("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        set_rollback()
        return Response({"detail": INTERNAL_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    response.data = {"detail": _sentence(response.data)}
    return response


@csrf_exempt  # a POST to an unknown API path is a 404, not an HTML CSRF page
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The catch-all under /api/ and /monitoring/: JSON 404 whatever DEBUG says."""
    return JsonResponse({"detail": NOT_FOUND}, status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: JSON on API paths, Django's plain page elsewhere."""
    if is_api_path(request.path):
        return JsonResponse({"detail": BAD_REQUEST}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: JSON on API paths, Django's page elsewhere."""
    if is_api_path(request.path):
        return JsonResponse({"detail": NOT_FOUND}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON on API paths, Django's page elsewhere."""
    if is_api_path(request.path):
        return JsonResponse({"detail": INTERNAL_ERROR}, status=500)
    return defaults.server_error(request)
