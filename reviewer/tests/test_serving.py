"""The production command, scripts/serve.sh, as the systemd unit runs it: collectstatic into the
state directory, then granian with WhiteNoise, DJANGO_DEBUG=false, on the test database.

It alone serves a styled console (every stylesheet, script and image a page names, with
cache headers), the API and the API docs, with no other web server.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus
from tasks.tests.factories import TaskExecutionFactory, TaskFactory
from testing.production import ProductionServer
from testing.worker import database_url_for_test_db

PASSWORD = "pw-serving-test-1234"
STATIC_REFERENCE = re.compile(r'(?:href|src)="(/static/[^"]+)"')
ANY_REFERENCE = re.compile(r'(?:href|src)="([^"]*)"')
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
# ManifestStaticFilesStorage's names: base.96c479cedf7a.css
HASHED = re.compile(r"\.[0-9a-f]{12}\.\w+$")
CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png", ".svg": "image/svg+xml"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db()}
    assert env["DJANGO_DEBUG"] == "false"  # the suite's environment: production settings
    web = ProductionServer(env, tmp_path_factory.mktemp("state")).start()
    yield web
    web.stop()


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("oncall", "oncall@example.com", PASSWORD)


def logged_in(server: ProductionServer) -> urllib.request.OpenerDirector:
    """A cookie-keeping client that logged in through the admin's login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    status, _, body = server.fetch("/admin/login/", opener=opener)
    assert status == 200
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode()).group(1)
    form = urllib.parse.urlencode(
        {"username": "oncall", "password": PASSWORD, "csrfmiddlewaretoken": csrf, "next": "/admin/"}
    ).encode()
    with opener.open(urllib.request.Request(f"{server.base}/admin/login/", data=form), timeout=30) as response:
        assert response.url == f"{server.base}/admin/", "the login did not reach the dashboard"
    return opener


def assert_served(server: ProductionServer, path: str) -> bytes:
    """The static file at `path` is served with its type and cache headers; its body."""
    status, headers, body = server.fetch(path)
    assert status == 200, path
    suffix = os.path.splitext(path)[1]
    if suffix in CONTENT_TYPES:
        assert headers["Content-Type"].startswith(CONTENT_TYPES[suffix]), (path, headers["Content-Type"])
    # A content-hashed name never changes its content: browsers may keep it for ever.
    if HASHED.search(path):
        assert "immutable" in headers["Cache-Control"], (path, headers["Cache-Control"])
    else:
        assert "max-age=" in headers["Cache-Control"], path
    return body


def assert_page_assets_served(server: ProductionServer, html: str) -> int:
    """Every /static/ file the page names, and every file its stylesheets name, is served."""
    seen = 0
    for reference in sorted(set(STATIC_REFERENCE.findall(html))):
        body = assert_served(server, reference)
        seen += 1
        if reference.endswith(".css"):
            for url in CSS_URL.findall(body.decode()):
                if not url.startswith(("data:", "#")):
                    assert_served(server, urllib.parse.urljoin(reference, url))
                    seen += 1
    return seen


def test_an_admin_stylesheet_is_served_with_its_type_and_cache_headers(server):
    status, headers, body = server.fetch("/static/admin/css/base.css")

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert re.search(r"max-age=\d+", headers["Cache-Control"])
    assert b"--header-bg" in body  # Django's admin stylesheet itself


def test_static_files_are_sent_compressed_to_clients_that_accept_it(server):
    plain = server.fetch("/static/admin/css/base.css")[2]
    status, headers, body = server.fetch("/static/admin/css/base.css", {"Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert len(body) < len(plain) / 2


def test_the_start_compresses_with_gzip_only_whatever_is_installed(server):
    # brotli at its highest level would add about a minute of CPU to every start on 2 cores,
    # and the load bench's HTTP client installs it (reviewer/static_storage.py).
    collected = [path.name for path in (server.state_dir / "static").rglob("*") if path.is_file()]

    assert any(name.endswith(".css.gz") for name in collected)
    assert not [name for name in collected if name.endswith(".br")]


def test_the_api_answers_401_json_without_a_token_and_200_with_one(server, staff):
    ConnectionStatus.objects.create(
        connection=ConnectionFactory(name="Production DB"), is_healthy=True, checked_at=datetime.now(UTC)
    )
    token = Token.objects.create(user=staff).key

    assert server.request("/api/v1/monitoring/connections/status") == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
    status, body = server.request("/api/v1/monitoring/connections/status", token)
    assert status == 200
    assert [(row["name"], row["is_healthy"]) for row in body] == [("Production DB", True)]


def test_the_console_pages_are_served_with_every_stylesheet_script_and_image(server, staff):
    connection = ConnectionFactory(name="Production DB")
    ConnectionStatus.objects.create(connection=connection, is_healthy=True, checked_at=datetime.now(UTC))
    task = TaskFactory(connection=connection)
    execution = TaskExecutionFactory(task=task, status=ExecutionStatus.FAILED, error_message="boom")
    opener = logged_in(server)

    assets = 0
    for page in [
        "/admin/",
        "/admin/connections/connection/",
        f"/admin/connections/connection/{connection.id}/change/",
        "/admin/tasks/task/add/",
        "/admin/tasks/taskexecution/",
        f"/admin/tasks/taskexecution/{execution.id}/change/",
    ]:
        status, headers, body = server.fetch(page, opener=opener)
        assert status == 200, page
        html = body.decode()
        assert re.search(r'href="/static/admin/css/base\.[0-9a-f]{12}\.css"', html), page
        assets += assert_page_assets_served(server, html)
    assert assets > 20


def test_the_login_page_is_styled_for_an_anonymous_visitor(server):
    status, _, body = server.fetch("/admin/login/")

    assert status == 200
    assert assert_page_assets_served(server, body.decode()) >= 3


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_api_docs_load_only_files_the_service_serves(server, page):
    status, headers, body = server.fetch(page)

    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    references = ANY_REFERENCE.findall(html)
    assert references and all(ref.startswith("/static/") for ref in references), references
    assert not re.search(r"https?://|//cdn|googleapis", html)
    assert assert_page_assets_served(server, html) >= 1


def test_the_schema_the_docs_read_is_served_as_json(server):
    status, headers, body = server.fetch("/api/v1/schema/", {"Accept": "application/json"})

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert body.startswith(b"{")
