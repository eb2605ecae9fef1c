"""The legacy base /api/monitoring/ answers 308 to /api/v1/monitoring/, query string kept."""

from __future__ import annotations

import json

from django.http import HttpRequest
from django.http.response import HttpResponseRedirectBase
from django.views.decorators.csrf import csrf_exempt

LEGACY_BASE = "/api/monitoring"
CANONICAL_BASE = "/api/v1/monitoring"


class JsonPermanentRedirect(HttpResponseRedirectBase):
    """308 with a JSON body: every response on an API path is JSON, redirects included."""

    status_code = 308

    def __init__(self, location: str) -> None:
        body = json.dumps({"detail": f"Moved permanently to {location}."})
        super().__init__(location, content=body, content_type="application/json")


@csrf_exempt  # the redirect itself acts on nothing; the target checks the caller
def legacy_redirect(request: HttpRequest, rest: str | None = None) -> JsonPermanentRedirect:
    """308 keeps the method and body, so a POST is repeated as a POST; the query is kept."""
    # get_full_path() is the path as sent (percent-encoded) plus the query string.
    return JsonPermanentRedirect(CANONICAL_BASE + request.get_full_path()[len(LEGACY_BASE) :])
