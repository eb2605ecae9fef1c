"""The production command's pages in Debian's Chromium (Playwright): the console is styled, and
Swagger UI and Redoc render the API from the service's own files, offline.

Every request to another origin is refused and recorded: the pages must need none.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User

from testing.production import ProductionServer
from testing.worker import database_url_for_test_db

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-serving-browser-1234"

if not os.access(CHROMIUM, os.X_OK):
    # `make test` installs chromium (scripts/ensure-system.sh); only an explicit opt-out skips.
    if os.environ.get("REVIEWER_BROWSER_TESTS") == "0":
        pytest.skip("browser tests disabled (REVIEWER_BROWSER_TESTS=0)", allow_module_level=True)
    raise RuntimeError(f"{CHROMIUM} is missing: run scripts/ensure-system.sh (make test does)")

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    web = ProductionServer({**os.environ, "DATABASE_URL": database_url_for_test_db()}, tmp_path_factory.mktemp("state"))
    yield web.start()
    web.stop()


@pytest.fixture(scope="module")
def browser():
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between page actions
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()
    if saved is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def page(browser, server):
    """A page that may reach the server only; `page.elsewhere` lists what it tried beyond it,
    `page.failed` the server's answers of 400 and above."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.base)
    context.set_default_timeout(30_000)
    elsewhere: list[str] = []
    failed: list[str] = []

    def only_the_server(route) -> None:
        if route.request.url.startswith(server.base + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    page = context.new_page()
    page.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    page.elsewhere, page.failed = elsewhere, failed
    yield page
    context.close()


def test_swagger_ui_renders_every_operation_offline(page):
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path")
    page.wait_for_load_state("networkidle")

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/monitoring/tasks/executions" in paths and len(paths) == 9
    assert page.elsewhere == [] and page.failed == []


def test_redoc_renders_the_api_offline(page):
    page.goto("/api/v1/redoc/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('h2')].some(h => h.innerText === 'Get task executions')"
    )
    page.wait_for_load_state("networkidle")

    assert page.inner_text("h1").startswith("PostgreSQL Reviewer monitoring API")
    assert page.elsewhere == [] and page.failed == []


def test_the_console_is_styled_and_links_to_the_api_docs_which_call_the_api_as_its_user(page):
    User.objects.create_superuser("oncall", "oncall@example.com", PASSWORD)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    # The admin stylesheet applied: the header has its colour, not the browser's transparent default.
    header = page.eval_on_selector("#header", "el => getComputedStyle(el).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")
    page.click("#user-tools >> text=API docs")
    page.wait_for_selector(".opblock-summary-path")
    assert page.url.endswith("/api/v1/docs/")

    # "Try it out" with the console's session: the API answers the logged-in user.
    operation = page.locator("#operations-connections-list_connection_statuses")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert page.elsewhere == [] and page.failed == []
