"""The staff pages in a real browser: Debian's chromium driven by Playwright for Python.

The live server, the machine's PostgreSQL (127.0.0.1:5432, trust) and a closed loopback port
(127.0.0.1:1) are real; so is the celery worker that runs the task. Screenshots go to
test-artifacts/ (docs/dashboard.png, which the README shows, is a copy of one).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from connections.fleet import probe_connections
from connections.models import Connection, ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.tests.console.workload_day import log_analysis_run
from notifications.delivery import deliver
from notifications.events import record_event
from notifications.models import Delivery, NotificationRule
from tasks.logs import remedies
from tasks.models import ExecutionStatus, Finding, TaskExecution
from tasks.tests.factories import FindingFactory, TaskExecutionFactory, TaskFactory
from testing.network import free_port
from testing.wait import wait_for

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "pw-browser-test-1234"

if not os.access(CHROMIUM, os.X_OK):
    # `make test` installs chromium (scripts/ensure-system.sh); only an explicit opt-out skips.
    if os.environ.get("REVIEWER_BROWSER_TESTS") == "0":
        pytest.skip("browser tests disabled (REVIEWER_BROWSER_TESTS=0)", allow_module_level=True)
    raise RuntimeError(f"{CHROMIUM} is missing: run scripts/ensure-system.sh (make test does)")

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still plain synchronous code.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
    if saved is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def superuser() -> User:
    return User.objects.create_superuser("dba", password=PASSWORD)


def viewer() -> User:
    """Staff who may look at everything and act on nothing."""
    user = User.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    page.screenshot(path=str(target), full_page=True)
    return target


def past_runs(task, days: int = 10) -> None:
    """A believable run history for the charts: a few runs a day, some failed."""
    now = timezone.now()
    for day in range(days):
        for index in range(2 + day % 3):
            failed = (day + index) % 5 == 0
            execution = TaskExecutionFactory(
                task=task,
                status=ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED,
                duration_seconds=0.4 + index,
                error_message="connection to server failed: Connection refused" if failed else None,
            )
            moment = now - timedelta(days=day, hours=index * 3 + 1)
            TaskExecution.objects.filter(pk=execution.pk).update(
                created_at=moment, started_at=moment, completed_at=moment + timedelta(seconds=1)
            )


def past_checks(connection: Connection, hours: int = 24, failing: range = range(0)) -> None:
    """One check every ten minutes for `hours`; the ones in `failing` (by index) failed."""
    now = timezone.now()
    rows = []
    for index in range(hours * 6, 0, -1):
        healthy = index not in failing
        rows.append(
            ConnectionStatus(
                connection=connection,
                is_healthy=healthy,
                checked_at=now - timedelta(minutes=10 * index),
                response_time_ms=3 + (index * 7) % 11 if healthy else None,
                server_version="16.4" if healthy else None,
                error_message=None if healthy else "connection timeout expired",
            )
        )
    ConnectionStatus.objects.bulk_create(rows)


def some_findings(execution: TaskExecution) -> None:
    """What a log analysis might have found."""
    now = timezone.now()
    corrupt = "invalid page in block 4711 of relation base/16384/16402"
    for severity, category, message, count, remedy in [
        ("critical", "data_corruption", corrupt, 1, remedies.data_corruption(corrupt)),
        (
            "warning",
            "deadlock",
            "3 deadlock(s) on order_items, orders",
            3,
            remedies.deadlock(["order_items", "orders"], []),
        ),
        (
            "warning",
            "auth_failure",
            'password authentication failed for user "report"',
            12,
            remedies.auth_failure({"password": 12}, "report", "10.0.0.7"),
        ),
    ]:
        FindingFactory(
            execution=execution,
            connection=execution.task.connection,
            severity=severity,
            category=category,
            message=message,
            remedy=remedy,
            count=count,
            first_seen=now - timedelta(hours=3),
            last_seen=now - timedelta(minutes=count),
            database="orders",
        )
    for severity, category, area, subject, message, remedy in [
        (
            "critical",
            "sequence_exhaustion",
            "maintenance",
            "public.orders_id_seq",
            "public.orders_id_seq has used 96% of the integer column public.orders.id (2,061,584,302 of 2,147,483,647)",
            "ALTER TABLE public.orders ALTER COLUMN id TYPE bigint;\nALTER SEQUENCE public.orders_id_seq AS bigint;",
        ),
        (
            "warning",
            "duplicate_index",
            "indexes",
            "public.orders_customer_idx",
            "public.orders_customer_idx is covered by public.orders_customer_created_idx (12 MB wasted)",
            "DROP INDEX CONCURRENTLY public.orders_customer_idx;",
        ),
    ]:
        FindingFactory(
            execution=execution,
            severity=severity,
            category=category,
            subject=subject,
            message=message,
            remedy=remedy,
            first_seen=now - timedelta(days=2),
            last_seen=now,
            database="orders",
            details={"area": area},
        )


def test_the_dashboard_shows_a_healthy_and_an_unhealthy_connection(page):
    superuser()
    healthy = ConnectionFactory(name="orders-primary")
    unhealthy = ConnectionFactory(name="billing-replica", port=1)
    ConnectionFactory(name="analytics-new")
    past_checks(unhealthy, hours=6, failing=range(1, 13))  # down for the last two hours
    past_runs(TaskFactory(name="orders nightly health", connection=healthy))
    billing = TaskFactory(name="billing health", connection=unhealthy)
    TaskExecutionFactory(task=billing, status=ExecutionStatus.COMPLETED, duration_seconds=95)
    TaskExecutionFactory(
        task=billing, status=ExecutionStatus.RUNNING, started_at=timezone.now() - timedelta(seconds=40)
    )
    probe_connections([healthy, unhealthy])  # real probes: one answers, one is refused
    some_findings(TaskExecution.objects.filter(status=ExecutionStatus.COMPLETED).first())

    log_in(page, "dba")

    cards = page.locator(".rv-card")
    assert cards.filter(has_text="healthy").first.locator(".rv-num").inner_text() == "1"
    assert cards.filter(has_text="unhealthy").locator(".rv-num").inner_text() == "1"
    assert cards.filter(has_text="never checked").locator(".rv-num").inner_text() == "1"
    row = page.locator("#unhealthy tbody tr")
    assert row.count() == 1
    assert "billing-replica" in row.inner_text()
    assert "Connection refused" in row.inner_text()
    assert "for 2\xa0hours" in row.locator("td").nth(3).inner_text()  # since the streak began
    running = page.locator("#running").inner_text()
    assert "billing health" in running
    assert "2 minutes" in running  # the estimate: the median of its completed runs
    assert page.locator("svg.rv-chart title").first.text_content() == "Executions per day, last 14 days"
    screenshot(page, "dashboard.png")  # docs/dashboard.png, in the README, is a copy of one


def test_check_now_turns_a_recovered_connection_healthy(page):
    superuser()
    connection = ConnectionFactory(name="orders-primary")  # reachable now...
    past_checks(connection, hours=24, failing=range(20, 32))
    ConnectionStatus.objects.create(  # ...but the last check recorded it down
        connection=connection, is_healthy=False, checked_at=timezone.now(), error_message="connection refused"
    )
    log_in(page, "dba")
    page.goto(f"/admin/connections/connection/{connection.pk}/change/")
    badge = page.locator("#status-panel .rv-badge").first
    assert badge.inner_text() == "unhealthy"

    page.click("#check-now")

    page.wait_for_selector("#status-panel .rv-badge.rv-healthy")
    assert badge.inner_text() == "healthy"
    assert "orders-primary: healthy" in page.locator(".messagelist").inner_text().lower()
    assert connection.statuses.order_by("-id").first().is_healthy
    screenshot(page, "connection.png")
    page.locator("#status-panel").screenshot(path=str(ARTIFACTS / "connection-panel.png"))


def test_running_a_task_shows_it_complete(page, worker):
    superuser()
    task = TaskFactory(name="orders health", connection=ConnectionFactory(name="orders-primary"))
    log_in(page, "dba")
    page.goto(f"/admin/tasks/task/{task.pk}/change/")
    screenshot(page, "task.png")

    page.click("#run-now")

    page.wait_for_url("**/admin/tasks/taskexecution/*/change/")
    assert "queued as execution" in page.locator(".messagelist").inner_text()

    def status_shown() -> str | None:
        page.reload()
        text = page.locator("#execution-status").inner_text()
        return text if text in ("completed", "failed") else None

    assert wait_for(status_shown, timeout=60, interval=1) == "completed"
    assert "response_time_ms" in page.locator(".rv-json").inner_text()
    screenshot(page, "execution.png")


def test_staff_without_permissions_see_no_actions(page):
    viewer()
    connection = ConnectionFactory(name="billing-replica", port=1)
    probe_connections([connection])
    task = TaskFactory(connection=connection)

    log_in(page, "viewer")

    assert "billing-replica" in page.locator("#unhealthy").inner_text()
    assert page.locator("text=Check now").count() == 0
    page.goto(f"/admin/connections/connection/{connection.pk}/change/")
    assert page.locator("#status-panel").is_visible()
    assert page.locator("#check-now").count() == 0
    page.goto(f"/admin/tasks/task/{task.pk}/change/")
    assert page.locator("#schedule-panel").is_visible()
    assert page.locator("#run-now").count() == 0
    page.goto("/admin/connections/connection/")
    assert page.locator("select[name=action] option[value=check_now]").count() == 0
    page.goto("/admin/tasks/task/")
    assert page.locator("select[name=action] option[value=run_now]").count() == 0


# Every visible piece of text in the page, with its colour and the colour behind it (the first
# opaque background of it or an ancestor), and the WCAG contrast ratio between them. SVG text
# is measured by its fill; text drawn on a chart's bars (white on a bar) is the chart's own
# business and is left out: only the text on the chart's background (.rv-ink, .rv-muted).
CONTRAST_JS = """
(root) => {
  const parse = (c) => {
    const m = c && c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const out = [];
  for (const el of document.querySelector(root).querySelectorAll("*")) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const svg = el instanceof SVGElement;
    if (svg && !(el.classList.contains("rv-ink") || el.classList.contains("rv-muted"))) continue;
    const fg = parse(svg ? style.fill : style.color);
    if (!fg) continue;
    const bg = behind(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    out.push({
      text: own.slice(0, 40), where: (el.className && el.className.baseVal !== undefined ? el.className.baseVal : el.className) || el.tagName,
      ratio: Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100,
      needed: size >= 24 || (bold && size >= 18.66) ? 3 : 4.5,
      fg: style.color, bg: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
    });
  }
  return out;
}
"""


def unreadable_text(page) -> list[dict]:
    """Text in the page below WCAG AA contrast (4.5:1, 3:1 for large text)."""
    return [item for item in page.evaluate(CONTRAST_JS, "#container") if item["ratio"] < item["needed"]]


def contrast_of(page, selector: str) -> list[float]:
    """The contrast ratio of each element matching `selector` against what is behind it."""
    marker = "rv-measure-me"
    page.evaluate(f"document.querySelectorAll({selector!r}).forEach((e) => e.classList.add({marker!r}))")
    ratios = [item["ratio"] for item in page.evaluate(CONTRAST_JS, "#container") if marker in str(item["where"])]
    page.evaluate(f"document.querySelectorAll({selector!r}).forEach((e) => e.classList.remove({marker!r}))")
    return ratios


def columns_in_view(page, *columns: str) -> dict[str, bool]:
    """Whether each list column's header is on screen: inside the 1280 px viewport and inside
    the visible part of the list (the admin scrolls a too-wide table within its box)."""
    return page.evaluate(
        """(columns) => {
          const box = document.querySelector("#changelist .results").getBoundingClientRect();
          const out = {};
          for (const name of columns) {
            const th = document.querySelector(`#result_list th.column-${name}`);
            const r = th && th.getBoundingClientRect();
            out[name] = !!r && r.width > 0 && r.left >= box.left && r.right <= Math.min(box.right, window.innerWidth) + 0.5;
          }
          return out;
        }""",
        list(columns),
    )


def a_fleet_with_trouble() -> dict[str, str]:
    """Something on every page, including what is drawn in alarm colours: a refused and a
    stale connection, failed runs with their errors, open critical findings. The pages."""
    stale = ConnectionFactory(name="silent-replica", vault_path="secret/reviewer/silent-replica")
    past_checks(stale, hours=4)
    ConnectionStatus.objects.filter(connection=stale).update(checked_at=timezone.now() - timedelta(hours=3))
    healthy = ConnectionFactory(name="orders-primary")
    refused = ConnectionFactory(name="billing-replica", port=1)
    past_checks(healthy, hours=24, failing=range(30, 34))
    probe_connections([healthy, refused])  # real probes: one answers, one is refused
    task = TaskFactory(name="orders nightly health", connection=healthy, schedule="0 2 * * *")
    log_task = TaskFactory(name="billing log analysis", task_type="log_analysis", connection=refused)
    report = log_analysis_run(log_task)  # a day of a real-looking log, analyzed for real
    past_runs(task)
    completed = TaskExecution.objects.filter(task=task, status=ExecutionStatus.COMPLETED).first()
    TaskExecution.objects.filter(pk=completed.pk).update(
        result={"analyzed_logs": 1200, "first_entry_at": "2026-11-28T00:00:00Z", "issues_found": 5}
    )
    some_findings(completed)
    failed = TaskExecution.objects.filter(task=task, status=ExecutionStatus.FAILED).first()
    finding = Finding.objects.filter(severity="critical").order_by("id").first()
    rule, event, delivery = a_failed_notification(refused)
    return {
        "dashboard": "/admin/",
        "connections": "/admin/connections/connection/",
        "connection": f"/admin/connections/connection/{healthy.pk}/change/",
        "connection-refused": f"/admin/connections/connection/{refused.pk}/change/",
        "connection-statuses": "/admin/connections/connectionstatus/",
        "tasks": "/admin/tasks/task/",
        "task": f"/admin/tasks/task/{task.pk}/change/",
        "executions": "/admin/tasks/taskexecution/",
        "execution": f"/admin/tasks/taskexecution/{completed.pk}/change/",
        "execution-failed": f"/admin/tasks/taskexecution/{failed.pk}/change/",
        "log-analysis-task": f"/admin/tasks/task/{log_task.pk}/change/",
        "workload-report": f"/admin/tasks/taskexecution/{report.pk}/workload/",
        "findings": "/admin/tasks/finding/",
        "finding": f"/admin/tasks/finding/{finding.pk}/change/",
        "notification-rules": "/admin/notifications/notificationrule/",
        "notification-rule": f"/admin/notifications/notificationrule/{rule.pk}/change/",
        "notification-events": "/admin/notifications/notificationevent/",
        "notification-event": f"/admin/notifications/notificationevent/{event.pk}/change/",
        "deliveries": "/admin/notifications/delivery/",
        "delivery": f"/admin/notifications/delivery/{delivery.pk}/change/",
    }


def a_failed_notification(connection):
    """An on-call webhook rule whose receiver is down: one event, one failed attempt."""
    rule = NotificationRule.objects.create(
        name="On-call webhook",
        url=f"https://alerts:hunter2@127.0.0.1:{free_port()}/hooks/T0KEN-secret",
        events=["connection_down", "connection_recovered", "execution_failed"],
    )
    event, _ = record_event(
        key=f"connection_down:{connection.pk}:browser",
        event="connection_down",
        severity="critical",
        message=f"{connection.name} is down: connection refused (2 failed probes in a row)",
        connection=connection,
    )
    delivery = Delivery.objects.get(event=event)
    deliver(delivery.pk)  # nothing listens: a failed attempt, a retry planned
    return rule, event, delivery


# The columns a DBA reads each list for, which must be on a 1280 px screen without scrolling.
KEY_COLUMNS = {
    "executions": ["task", "status_badge", "started", "completed", "duration", "error"],
    "connections": ["name", "health", "last_check", "response_time", "version"],
    "findings": ["severity_badge", "finding", "connection", "last", "run"],
    "connection-statuses": ["connection", "is_healthy", "checked", "response_time_ms", "error"],
    "tasks": ["name", "connection", "next_run", "last_run"],
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_1280_pixels_and_reads_in_both_colour_schemes(browser, live_server, scheme):
    superuser()
    pages = a_fleet_with_trouble()
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=live_server.url, color_scheme=scheme
    )
    page = context.new_page()
    try:
        log_in(page, "dba")
        for name, url in pages.items():
            page.goto(url)
            screenshot(page, f"{name}-{scheme}.png")  # first, so that a failure can be seen
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280, name
            if name in KEY_COLUMNS:
                # The list itself does not scroll sideways, and its key columns are on screen.
                assert page.evaluate(
                    "(e) => e.scrollWidth <= e.clientWidth", page.query_selector("#changelist .results")
                )
                shown = columns_in_view(page, *KEY_COLUMNS[name])
                assert all(shown.values()), (name, shown)
            assert unreadable_text(page) == [], name
            if name == "workload-report":
                # The longest statement wraps inside its cell: no query text reaches past the
                # screen's edge, and the eight charts are drawn.
                edges = page.evaluate(
                    "[...document.querySelectorAll('code.rv-sql')].map(e => e.getBoundingClientRect().right)"
                )
                assert edges and max(edges) <= 1280, edges
                assert page.locator("#report-charts svg.rv-chart").count() == 8
            if page.locator(".rv-charts").count():  # a close-up, to look at the charts' colours
                page.locator(".rv-charts").first.screenshot(path=str(ARTIFACTS / f"{name}-charts-{scheme}.png"))

        page.goto("/admin/")
        # The alarm counters: white-ish numbers on a red tint (dark) or dark on pink (light).
        alarms = page.locator(".rv-card.rv-bad")
        assert alarms.count() >= 3  # unhealthy, failed in the last 24 h, critical problems
        assert all(ratio >= 4.5 for ratio in contrast_of(page, ".rv-card.rv-bad .rv-num, .rv-card.rv-bad .rv-label"))
        assert len(contrast_of(page, ".rv-card.rv-bad .rv-num")) == alarms.count()
        # The chart's axis and labels follow the scheme too.
        assert contrast_of(page, ".rv-chart .rv-muted") and min(contrast_of(page, ".rv-chart .rv-muted")) >= 4.5
        # No link to a "site" that does not exist.
        assert page.locator("#user-tools a", has_text="View site").count() == 0

        page.goto(pages["connections"])
        row = page.locator("tr", has_text="silent-replica")
        assert "unhealthy" in row.inner_text()  # stale counts as unhealthy in the list too
        page.goto("/admin/tasks/finding/?category__exact=%00")
        screenshot(page, f"bad-filter-{scheme}.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280

        if scheme == "light":
            # The admin's theme toggle chooses dark on a light system: the same must hold.
            page.evaluate("localStorage.setItem('theme', 'dark')")
            page.goto("/admin/")
            assert page.evaluate("document.documentElement.dataset.theme") == "dark"
            screenshot(page, "dashboard-toggled-dark.png")
            assert unreadable_text(page) == []
            assert min(contrast_of(page, ".rv-card.rv-bad .rv-num")) >= 4.5
    finally:
        context.close()
