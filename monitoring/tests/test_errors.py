"""Errors are JSON {"detail": ...} on every API path, never HTML or a traceback."""

from __future__ import annotations

import logging

from django.test import RequestFactory

from monitoring import errors, queries
from monitoring.tests.conftest import API, assert_json_error


def test_an_unexpected_error_in_a_view_is_a_json_500_and_is_logged(reader, monkeypatch, caplog):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "running_executions", broken)

    with caplog.at_level(logging.ERROR, logger="monitoring.errors"):
        response = reader.get(f"{API}/tasks/running")

    assert assert_json_error(response, 500) == "Internal server error."
    assert b"secret internals" not in response.content
    assert "secret internals" in caplog.text


def test_an_unexpected_error_is_json_even_with_debug_on(reader, monkeypatch, settings):
    settings.DEBUG = True
    monkeypatch.setattr(queries, "active_connections_health", lambda: 1 / 0)

    assert_json_error(reader.get(f"{API}/connections/status"), 500)


def test_a_method_the_endpoint_does_not_have_is_a_json_405(reader):
    for method in ("post", "put", "patch", "delete"):
        assert_json_error(getattr(reader, method)(f"{API}/tasks/executions"), 405)


def test_a_405_is_answered_to_anonymous_callers_too(anonymous):
    assert_json_error(anonymous.delete(f"{API}/connections/status"), 405)


def test_an_html_accept_header_still_gets_json(reader):
    response = reader.get(f"{API}/tasks/executions", HTTP_ACCEPT="text/html")

    assert_json_error(response, 406)


def test_an_unknown_format_suffix_is_a_json_404(reader):
    assert_json_error(reader.get(f"{API}/tasks/executions", {"format": "xml"}), 404)


def test_the_django_404_handler_answers_json_on_api_paths_and_html_elsewhere():
    factory = RequestFactory()

    api = errors.page_not_found(factory.get("/monitoring/nothing"), Exception())
    site = errors.page_not_found(factory.get("/nothing"), Exception())

    assert api.status_code == site.status_code == 404
    assert api["Content-Type"] == "application/json"
    assert site["Content-Type"].startswith("text/html")


def test_the_django_500_handler_answers_json_on_api_paths_and_html_elsewhere():
    factory = RequestFactory()

    api = errors.server_error(factory.get("/api/v1/monitoring/tasks/running"))
    site = errors.server_error(factory.get("/admin/"))

    assert api.status_code == site.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert site["Content-Type"].startswith("text/html")
