"""The API documentation: Swagger UI at /api/v1/docs/ and Redoc at /api/v1/redoc/, whose files
come from drf-spectacular-sidecar (no CDN), linked from the console; and the schema they read,
in every form a client asks for (JSON, also as plain `Accept: application/json`, and YAML).

The production command serving these files is tested in reviewer/tests/test_serving.py, and the
pages in Chromium in reviewer/tests/test_serving_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders

from monitoring.tests.conftest import SCHEMA_URL

REFERENCE = re.compile(r'(?:href|src)="([^"]*)"')
DOCS = ["/api/v1/docs/", "/api/v1/redoc/"]


@pytest.mark.parametrize("page", DOCS)
def test_the_docs_pages_name_only_static_files_of_the_service(anonymous, page):
    response = anonymous.get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    references = REFERENCE.findall(html)
    assert references and all(ref.startswith("/static/drf_spectacular_sidecar/") for ref in references), references
    assert not re.search(r"https?://", html), "the page names another site"
    for reference in references:
        assert finders.find(reference.removeprefix("/static/")), f"{reference} is not a static file of the service"


@pytest.mark.parametrize("page", DOCS)
def test_the_docs_pages_let_the_browser_fetch_only_from_the_service(anonymous, page):
    policy = anonymous.get(page)["Content-Security-Policy"]

    directives = dict(item.strip().split(" ", 1) for item in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for directive in ("img-src", "font-src", "connect-src", "style-src", "script-src"):
        sources = directives[directive].split()
        assert all(source in ("'self'", "data:", "blob:") or source.startswith("'unsafe-") for source in sources)


def test_swagger_ui_reads_the_served_schema(anonymous):
    html = anonymous.get("/api/v1/docs/").content.decode()

    assert f'url: "{SCHEMA_URL}"' in html
    assert '"validatorUrl": null' in html  # no badge fetched from validator.swagger.io


def test_redoc_reads_the_served_schema(anonymous):
    html = anonymous.get("/api/v1/redoc/").content.decode()

    assert f'spec-url="{SCHEMA_URL}"' in html


def test_the_console_links_to_the_api_docs(db, client):
    client.force_login(User.objects.create_superuser("oncall", "oncall@example.com", "not-used"))

    for page in ["/admin/", "/admin/connections/connection/"]:
        html = client.get(page).content.decode()
        assert re.search(r'<div id="user-tools">.*<a href="/api/v1/docs/">API docs</a>', html, re.DOTALL), page


# --- The schema's forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept, content_type",
    [
        ("application/json", "application/json"),
        ("application/json; q=0.9, text/html", "application/json"),
        ("application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
        ("*/*", "application/vnd.oai.openapi+json"),
        (None, "application/vnd.oai.openapi+json"),
    ],
)
def test_the_schema_answers_json_to_every_json_accept_header(anonymous, openapi, accept, content_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = anonymous.get(SCHEMA_URL, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert json.loads(response.content) == openapi


@pytest.mark.parametrize(
    "query, accept",
    [({"format": "yaml"}, None), ({}, "application/vnd.oai.openapi"), ({}, "application/yaml")],
)
def test_the_schema_answers_yaml_when_asked(anonymous, openapi, query, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = anonymous.get(SCHEMA_URL, query, **headers)

    assert response.status_code == 200
    assert "yaml" in response["Content-Type"] or "vnd.oai.openapi;" in response["Content-Type"]
    assert yaml.safe_load(response.content) == openapi


def test_the_schema_refuses_a_form_it_does_not_have_with_a_json_406(anonymous):
    response = anonymous.get(SCHEMA_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert json.loads(response.content) == {"detail": "Could not satisfy the request Accept header."}
