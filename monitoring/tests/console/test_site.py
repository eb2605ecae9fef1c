"""The admin site is the console's ConsoleSite, installed by its AdminConfig in INSTALLED_APPS:
its index is the fleet overview, the model pages are the console's, and importing the domain
apps (connections, tasks) installs nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from connections.models import ConnectionStatus
from connections.tests.factories import ConnectionFactory
from monitoring.console.site import ConsoleSite

ROOT = Path(__file__).resolve().parents[3]


def test_the_admin_site_is_the_console_site():
    assert apps.get_app_config("admin").default_site == "monitoring.console.site.ConsoleSite"
    assert isinstance(admin.site, ConsoleSite)
    assert (admin.site.site_header, admin.site.index_title) == ("PostgreSQL Reviewer", "Fleet overview")


@pytest.mark.django_db
def test_no_page_links_to_a_site_that_is_not_there(admin_client):
    # "View site" pointed at "/", which this service does not serve (a 404).
    page = admin_client.get("/admin/tasks/task/").content.decode()
    assert "View site" not in page and 'href="/"' not in page
    assert admin_client.get("/admin/").status_code == 200  # "Home" in the breadcrumbs


@pytest.mark.django_db
def test_the_admin_index_is_the_fleet_overview(admin_client):
    connection = ConnectionFactory(name="orders-primary")
    ConnectionStatus.objects.create(
        connection=connection, is_healthy=True, checked_at=timezone.now(), response_time_ms=4, server_version="16.4"
    )

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert reverse("admin:index") == "/admin/"
    assert "admin/reviewer_dashboard.html" in [template.name for template in response.templates]
    assert response.context["fleet"].healthy == 1
    page = response.content.decode()
    assert "<title>Fleet overview | PostgreSQL Reviewer</title>" in page
    assert 'class="rv-dashboard"' in page


def test_every_model_page_is_the_consoles():
    pages = {
        "connections.Connection": "monitoring.console.connections",
        "connections.ConnectionStatus": "monitoring.console.connections",
        "tasks.Task": "monitoring.console.tasks",
        "tasks.TaskExecution": "monitoring.console.tasks",
        "tasks.Finding": "monitoring.console.findings",
    }

    for label, module in pages.items():
        assert type(admin.site._registry[apps.get_model(label)]).__module__ == module, label


# Run in a fresh interpreter: the project's settings with the stock admin and without the
# read side, then every module of connections and tasks imported.
IMPORT_THE_DOMAIN_APPS = textwrap.dedent(
    """
    import importlib, json, pkgutil

    import django
    from django.conf import settings

    from reviewer import settings as project

    values = {name: getattr(project, name) for name in dir(project) if name.isupper()}
    values["INSTALLED_APPS"] = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "connections",
        "tasks",
    ]
    settings.configure(**values)
    django.setup()

    from django.contrib import admin

    imported = []
    for app in ("connections", "tasks"):
        for module in pkgutil.walk_packages(importlib.import_module(app).__path__, f"{app}."):
            parts = module.name.split(".")
            if "tests" in parts or "migrations" in parts or parts[-1] == "__main__":
                continue
            importlib.import_module(module.name)
            imported.append(module.name)

    site = admin.site  # a LazyObject: __class__ is the class of the site behind it
    print(json.dumps({
        "imported": imported,
        "site": f"{site.__class__.__module__}.{site.__class__.__name__}",
        "index_patched": "index" in vars(site),
        "index_template": site.index_template,
        "site_header": str(site.site_header),
        "registered": sorted(model._meta.label for model in site._registry),
    }))
    """
)


def test_importing_the_domain_apps_installs_nothing():
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_DOMAIN_APPS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    assert {"connections.health", "connections.models", "tasks.models", "tasks.runner"} <= set(seen["imported"])
    assert seen["site"] == "django.contrib.admin.sites.AdminSite"
    assert (seen["index_patched"], seen["index_template"]) == (False, None)
    assert seen["site_header"] == "Django administration"
    assert [label for label in seen["registered"] if label.split(".")[0] in ("connections", "tasks")] == []
