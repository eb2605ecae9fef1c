"""GET /metrics: the Prometheus text exposition format, for a token or an allowed network.

Access (README "Metrics"):
- any authenticated user: `Authorization: Token <key>` (what Prometheus sends with
  `authorization: {type: Token, credentials: <key>}`), or a console session. The metrics show
  what the read API shows to any user, so no permission beyond being a user is asked.
- without a token, a client whose TCP peer address (REMOTE_ADDR) is in
  METRICS_ALLOWED_NETWORKS (none by default). A request that came through a proxy (it carries
  X-Forwarded-For or Forwarded) is never let in by address: behind a proxy REMOTE_ADDR is the
  proxy's, which would let in everyone the proxy serves, and the forwarded headers are
  written by the client.

Anything else is 401 with the API's JSON error body.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from monitoring.metrics.collector import ReviewerCollector

# Only this service's metrics: process metrics of one web worker would mislead.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(ReviewerCollector())

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED")


def peer_in_allowed_network(request) -> bool:
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not networks or any(header in request.META for header in FORWARDED_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d
    return any(address in network for network in networks)


class MayScrape(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.is_authenticated or peer_in_allowed_network(request)


class AlwaysJSONErrors(BaseContentNegotiation):
    """Prometheus asks for text formats; the metrics are text whatever it asks, and the error
    bodies (401) are the API's JSON, never a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return None


class MetricsView(APIView):
    permission_classes = [MayScrape]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSONErrors

    def get(self, request) -> HttpResponse:
        response = HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)
        response["Cache-Control"] = "no-store"
        return response
