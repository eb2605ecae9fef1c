"""The API documentation pages: Swagger UI and Redoc, from drf-spectacular-sidecar's static files.

The pages load their scripts and styles from /static/, and their Content-Security-Policy lets
the browser fetch nothing from anywhere else: Redoc's bundle, for one, asks a CDN for its
footer logo. So the docs work the same on a network without Internet access, and viewing them
tells no third party anything.
"""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Scripts stay permissive ('unsafe-inline': drf-spectacular's Swagger page starts the UI in an
# inline script; 'unsafe-eval' and blob: workers: Redoc's search and schema code): the policy's
# job is the origin of what is fetched, and 'self' is the only one.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:",
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)


class _SameOriginOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_SameOriginOnly, SpectacularSwaggerView):
    """Swagger UI at /api/v1/docs/: try the API with a token (Authorize) or the console session."""


class RedocView(_SameOriginOnly, SpectacularRedocView):
    """Redoc at /api/v1/redoc/: the reference, one page."""
