"""/healthz and /readyz, with real workers, a real beat and a Redis that goes away."""

from __future__ import annotations

import os
import time

import pytest

from tasks.broker import broker_client
from tasks.liveness import BEAT_KEY, record_alive, redis_now, worker_key
from testing.beat import BeatProcess
from testing.network import free_port
from testing.redis_server import RedisServer
from testing.wait import wait_for
from testing.web import WebServer
from testing.worker import WorkerProcess, database_url_for_test_db


def readyz_when(client, predicate, timeout: float = 60):
    """Poll /readyz until predicate(status, body) holds; return (status, body)."""

    def answer():
        status, body = readyz(client)
        return (status, body) if predicate(status, body) else None

    return wait_for(answer, timeout=timeout, interval=0.5)


def readyz(client):
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def test_healthz_answers_without_touching_anything(client, settings):
    # No django_db mark: pytest-django fails any database access. Redis is unreachable.
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": settings.CELERY_BROKER_URL},
    }
    settings.SECURE_SSL_REDIRECT = True
    # A load balancer probes a backend by its address, over http.
    response = client.get("/healthz", HTTP_HOST="10.9.8.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_endpoints_only_answer_reads(client):
    response = client.post("/readyz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert client.head("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_names_beat_and_each_queue_when_no_celery_process_was_seen(client):
    status, body = readyz(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["beat", "workers:notifications", "workers:probes", "workers:reviews"]
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["cache"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["workers:reviews"]["error"] == "no worker of queue reviews has been seen"
    assert body["checks"]["beat"]["error"] == "no beat has been seen"


@pytest.mark.django_db
def test_readyz_fails_a_queue_whose_worker_was_last_seen_too_long_ago(client, settings):
    settings.READINESS_WORKER_SEEN_SECONDS = 30
    record_alive([BEAT_KEY, worker_key("probes"), worker_key("notifications")], "fresh@host")
    redis = broker_client()
    redis.zadd(worker_key("reviews"), {"killed@host": redis_now(redis) - 100})

    status, body = readyz(client)

    assert status == 503
    assert body["failed"] == ["workers:reviews"]
    reviews = body["checks"]["workers:reviews"]
    assert reviews["ok"] is False and reviews["workers"] == 0
    assert reviews["error"] == "worker of queue reviews last seen 100 s ago (limit 30 s)"
    assert body["checks"]["workers:probes"]["workers"] == 1
    assert "host" not in str(body)  # process names stay in Redis


@pytest.mark.django_db(transaction=True)
def test_readyz_follows_the_real_beat_and_workers_as_they_start_and_stop(client):
    beat = BeatProcess().start()
    probes = WorkerProcess(queues="probes,notifications").start()
    reviews = None
    try:
        status, body = readyz_when(client, lambda status, body: body["failed"] == ["workers:reviews"])
        assert status == 503
        assert body["checks"]["beat"]["ok"] is True

        reviews = WorkerProcess(queues="reviews").start()
        status, body = readyz_when(client, lambda status, body: status == 200)
        assert body["status"] == "ok" and body["failed"] == []
        assert body["checks"]["workers:reviews"]["workers"] == 1
        assert body["checks"]["workers:probes"]["workers"] == 1
        assert body["checks"]["beat"]["seen_seconds_ago"] < 30

        reviews.stop()  # a worker that stops cleanly stops counting at once
        status, body = readyz(client)
        assert status == 503 and body["failed"] == ["workers:reviews"]
    finally:
        if reviews:
            reviews.stop()
        probes.stop()
        beat.stop()


@pytest.fixture
def private_redis():
    server = RedisServer().start()
    yield server
    server.close()


@pytest.mark.django_db(transaction=True)
def test_readyz_names_redis_when_it_is_unreachable_under_a_live_service(private_redis):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_test_db(),
        "REDIS_URL": private_redis.url(0),
        "CACHE_URL": private_redis.url(1),
        "PYTHONUNBUFFERED": "1",
    }
    web = WebServer(env).start()
    try:
        private_redis.stop()

        started = time.monotonic()
        status, body = web.request("/readyz")
        assert time.monotonic() - started < 15  # bounded by the Redis timeouts, generously
        assert status == 503
        assert body["failed"] == [
            "cache",
            "broker",
            "beat",
            "workers:notifications",
            "workers:probes",
            "workers:reviews",
        ]
        assert body["checks"]["broker"] == {"ok": False, "error": "unreachable (ConnectionError)"}
        assert body["checks"]["beat"]["error"] == "not checked: the broker is unreachable"
        assert body["checks"]["database"] == {"ok": True}
        assert str(private_redis.port) not in str(body)
        assert web.request("/healthz") == (200, {"status": "ok"})
    finally:
        web.stop()
