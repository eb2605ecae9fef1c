"""The fleet status and each connection's status are served from the cache, yet a new probe
result or a changed connection shows on the very next request, and health is judged when a
request reads it: a cached healthy result turns stale with the clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections import fleet_status
from connections.models import Connection, ConnectionStatus
from connections.probe import ProbeResult
from connections.status import store_results
from connections.tests.factories import ConnectionFactory
from monitoring.tests.conftest import API

FLEET = f"{API}/connections/status"


def detail(connection_id: int) -> str:
    return f"{API}/connections/{connection_id}/status"


def healthy_result(**fields) -> ProbeResult:
    values = {"is_healthy": True, "checked_at": datetime.now(UTC), "response_time_ms": 7, "server_version": "16.2"}
    return ProbeResult(**{**values, **fields})


def read(client, url: str) -> tuple[object, int]:
    """The JSON body and how many SQL queries answering it took."""
    with CaptureQueriesContext(db_connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json(), len(queries.captured_queries)


def test_the_second_read_of_an_unchanged_fleet_or_connection_makes_no_query(reader):
    connection = ConnectionFactory()
    store_results([(connection, healthy_result())])
    read(reader, FLEET)
    read(reader, detail(connection.id))

    assert read(reader, FLEET)[1] == 0
    assert read(reader, detail(connection.id))[1] == 0


def test_a_result_stored_by_a_probe_chunk_is_served_on_the_next_request(reader):
    connections = [ConnectionFactory(), ConnectionFactory()]
    store_results([(c, healthy_result()) for c in connections])
    assert [item["is_healthy"] for item in read(reader, FLEET)[0]] == [True, True]
    assert read(reader, detail(connections[1].id))[0]["is_healthy"] is True

    failed = healthy_result(is_healthy=False, response_time_ms=None, server_version=None, error_message="refused")
    store_results([(connections[1], failed)])  # what a probe chunk of a round does

    fleet = read(reader, FLEET)[0]
    assert [(item["is_healthy"], item["error_message"]) for item in fleet] == [(True, None), (False, "refused")]
    assert read(reader, detail(connections[1].id))[0]["error_message"] == "refused"


def test_a_cached_healthy_result_turns_stale_as_time_passes(reader, settings, monkeypatch):
    connection = ConnectionFactory()
    store_results([(connection, healthy_result())])
    assert read(reader, FLEET)[0][0]["is_healthy"] is True
    assert read(reader, detail(connection.id))[0]["is_healthy"] is True

    later = timezone.now() + timedelta(seconds=settings.PROBE_STALE_AFTER_SECONDS + 600)
    monkeypatch.setattr(timezone, "now", lambda: later)  # the probe worker died 13 minutes ago

    for url in (FLEET, detail(connection.id)):
        body, queries = read(reader, url)
        item = body[0] if isinstance(body, list) else body
        assert queries == 0  # still the cached entry, judged now
        assert item["is_healthy"] is False
        assert item["error_message"].startswith("no probe result for 13 minutes")


def test_a_changed_added_deactivated_or_deleted_connection_shows_on_the_next_request(reader):
    first, second = ConnectionFactory(name="first"), ConnectionFactory(name="second")
    assert [item["name"] for item in read(reader, FLEET)[0]] == ["first", "second"]
    read(reader, detail(first.id))

    first.name = "renamed"
    first.save()
    assert [item["name"] for item in read(reader, FLEET)[0]] == ["renamed", "second"]
    assert read(reader, detail(first.id))[0]["name"] == "renamed"

    third = ConnectionFactory(name="third")
    assert [item["name"] for item in read(reader, FLEET)[0]] == ["renamed", "second", "third"]

    second.is_active = False
    second.save()
    assert [item["name"] for item in read(reader, FLEET)[0]] == ["renamed", "third"]

    third.delete()
    assert [item["name"] for item in read(reader, FLEET)[0]] == ["renamed"]
    assert reader.get(detail(third.id)).status_code == 404


def test_a_read_that_raced_a_probe_write_is_not_served_after_it(reader, monkeypatch):
    connection = ConnectionFactory()
    store_results([(connection, healthy_result())])
    load = fleet_status.load_fleet

    def read_then_a_chunk_stores_a_result():
        rows = load()
        store_results([(connection, healthy_result(is_healthy=False, error_message="refused"))])
        return rows  # what was read before the write

    monkeypatch.setattr(fleet_status, "load_fleet", read_then_a_chunk_stores_a_result)
    assert read(reader, FLEET)[0][0]["is_healthy"] is True  # it raced: the old result, once
    monkeypatch.setattr(fleet_status, "load_fleet", load)

    assert read(reader, FLEET)[0][0]["error_message"] == "refused"


def test_a_change_the_service_did_not_see_shows_within_the_cache_time(reader, settings):
    settings.FLEET_STATUS_CACHE_SECONDS = 1
    connection = ConnectionFactory(name="before")
    read(reader, FLEET)
    Connection.objects.filter(pk=connection.pk).update(name="after")  # no signal, like raw SQL

    time.sleep(1.5)

    assert read(reader, FLEET)[0][0]["name"] == "after"


def test_a_result_saved_on_its_own_shows_on_the_next_request(reader):
    connection = ConnectionFactory()
    assert read(reader, FLEET)[0][0]["is_healthy"] is None
    ConnectionStatus.objects.create(connection=connection, is_healthy=True, checked_at=datetime.now(UTC))

    assert read(reader, FLEET)[0][0]["is_healthy"] is True


def test_a_list_read_just_before_a_result_turns_stale_is_not_served_after_it(reader, settings, monkeypatch):
    now = timezone.now()
    connection = ConnectionFactory()
    checked = now - timedelta(seconds=settings.PROBE_STALE_AFTER_SECONDS - 30)
    store_results([(connection, healthy_result(checked_at=checked))])
    assert read(reader, FLEET)[0][0]["is_healthy"] is True

    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(seconds=60))

    assert read(reader, FLEET)[0][0]["is_healthy"] is False
