"""Shared fixtures: real services only (docs/development.md)."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test.utils import override_settings

from connections import vault
from testing.network import BlackHole
from testing.pg_cluster import PgCluster
from testing.worker import WorkerProcess


@pytest.fixture(scope="session", autouse=True)
def _static_files_without_a_manifest(tmp_path_factory):
    """In-process tests render pages without running `collectstatic`, so they use Django's plain
    static storage, as Django advises for the manifest storage, and an empty STATIC_ROOT. The
    production storage (hashed, compressed, served by whitenoise) is tested on the real
    command, scripts/serve.sh, in reviewer/tests/test_serving.py."""
    plain = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=plain, STATIC_ROOT=tmp_path_factory.mktemp("static-root")):
        yield


@pytest.fixture(autouse=True)
def _clean_cache_and_queues():
    """Each test starts with an empty cache and no queued messages in the test Redis DBs."""
    cache.clear()
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5)
    broker.flushdb()  # the test suite's own broker database (see Makefile)
    yield


@pytest.fixture(autouse=True)
def _fresh_vault_session():
    """The vault module caches its client, token and leases per process: no test sees another's."""
    vault.reset()
    yield
    vault.reset()


@pytest.fixture(autouse=True)
def _no_ambient_libpq_password(monkeypatch, tmp_path):
    """libpq must find only the passwords a test gives it, not the machine's ~/.pgpass."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGSERVICE", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))


@pytest.fixture(scope="session")
def scram_cluster():
    """A PostgreSQL server that really checks passwords (the machine's trusts everyone)."""
    cluster = PgCluster(auth="scram-sha-256").start()
    yield cluster
    cluster.stop()


@pytest.fixture
def blackhole():
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.fixture
def worker(transactional_db):
    """A real celery worker process consuming the test broker against the test database."""
    proc = WorkerProcess().start()
    yield proc
    proc.stop()


@pytest.fixture
def unreachable_broker():
    """Point this process's Celery app at a loopback port nobody listens on, then restore.

    The override goes into the app's own configuration layer (where it wins over Django
    settings) and is removed afterwards; the app's connection and producer pools are
    dropped both times so the next publish connects to the URL in force.
    """
    from reviewer.celery import app
    from testing.network import free_port

    keys = ("broker_url", "broker_write_url")
    saved = {key: app.conf.changes[key] for key in keys if key in app.conf.changes}

    def forget_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    forget_pools()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app.conf.broker_url = app.conf.broker_write_url = dead
    yield dead
    for key in keys:
        app.conf.changes.pop(key, None)
    app.conf.changes.update(saved)
    forget_pools()
