"""Errors are JSON {"detail": ...} on every API path, never HTML or a traceback."""

from __future__ import annotations

import logging

from django.test import RequestFactory

from connections import fleet_status
from monitoring.api import errors
from monitoring.tests.conftest import API, assert_json_error
from tasks import estimates


def test_an_unexpected_error_in_a_view_is_a_json_500_and_is_logged(reader, monkeypatch, caplog):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(estimates, "running_runs", broken)

    with caplog.at_level(logging.ERROR, logger="monitoring.api.errors"):
        response = reader.get(f"{API}/tasks/running")

    assert assert_json_error(response, 500) == "Internal server error."
    assert b"secret internals" not in response.content
    assert "secret internals" in caplog.text


def test_an_unexpected_error_is_json_even_with_debug_on(reader, monkeypatch, settings):
    settings.DEBUG = True
    monkeypatch.setattr(fleet_status, "fleet_snapshot", lambda: 1 / 0)

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


HUGE = "9" * 5000  # longer than Python's int-string conversion limit (4,300 digits)


def test_an_id_longer_than_any_integer_matches_nothing(reader):
    assert reader.get(f"{API}/tasks/executions", {"task_id": HUGE}).json() == []
    assert reader.get(f"{API}/findings", {"connection_id": "-" + HUGE}).json() == []
    assert_json_error(reader.get(f"{API}/tasks/{HUGE}/executions"), 404)
    assert_json_error(reader.get(f"{API}/connections/{HUGE}/status"), 404)
    assert_json_error(reader.get(f"{API}/tasks/executions/{HUGE}/findings"), 404)


def test_a_limit_longer_than_any_integer_is_capped(reader):
    assert reader.get(f"{API}/tasks/executions", {"limit": HUGE}).status_code == 200


def test_a_since_that_overflows_in_utc_is_a_400(reader):
    detail = assert_json_error(reader.get(f"{API}/tasks/executions", {"since": "0001-01-01T00:00:00+01:00"}), 400)

    assert detail.startswith("since must be an ISO 8601 time")


def test_more_parameters_than_django_reads_is_a_json_400_even_anonymously(anonymous, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    query = "&".join(f"p{n}=1" for n in range(101))

    detail = assert_json_error(anonymous.get(f"{API}/tasks/executions?{query}"), 400)

    assert "too many parameters" in detail


def test_a_bad_host_header_is_a_json_400_on_api_paths_and_a_plain_page_elsewhere(client):
    api = client.get(f"{API}/tasks/executions", HTTP_HOST="evil.example")
    page = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert_json_error(api, 400)
    assert page.status_code == 400
    assert b"Traceback" not in page.content and b"DATABASE" not in page.content
