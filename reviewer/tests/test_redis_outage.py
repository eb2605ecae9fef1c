"""Redis stops and comes back under a live service (web and worker in their own processes).

While it is down: reads still answer (the cache is bypassed), a manual run answers 500 JSON
and is recorded as failed. When it is back, everything resumes without a restart.
"""

from __future__ import annotations

import os
import time

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from connections.tests.factories import ConnectionFactory
from tasks.models import ExecutionStatus, TaskExecution
from tasks.tests.factories import TaskFactory
from testing.redis_server import RedisServer
from testing.wait import wait_for
from testing.web import WebServer
from testing.worker import WorkerProcess, database_url_for_test_db

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/v1/monitoring"


@pytest.fixture
def private_redis():
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def service(private_redis):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_test_db(),
        "REDIS_URL": private_redis.url(0),
        "CACHE_URL": private_redis.url(1),
        "PYTHONUNBUFFERED": "1",
    }
    web = WebServer(env).start()
    worker = WorkerProcess(extra_env={"REDIS_URL": private_redis.url(0), "CACHE_URL": private_redis.url(1)}).start()
    yield web, worker
    worker.stop()
    web.stop()


def finished(execution_id: int) -> TaskExecution | None:
    execution = TaskExecution.objects.get(pk=execution_id)
    return execution if execution.is_finished else None


def test_the_service_degrades_while_redis_is_down_and_resumes_when_it_is_back(service, private_redis):
    web, worker = service
    token = Token.objects.create(user=User.objects.create_superuser("ops")).key
    connection = ConnectionFactory()
    task = TaskFactory(connection=connection)

    status, body = web.request(f"{API}/tasks/{task.id}/execute", token, method="POST")
    assert status == 200
    assert wait_for(lambda: finished(body["execution_id"]), timeout=60).status == ExecutionStatus.COMPLETED

    private_redis.stop()

    for path in ("/connections/status", f"/connections/{connection.id}/status", "/tasks/executions", "/tasks/running"):
        started = time.monotonic()
        status, body = web.request(API + path, token)
        assert status == 200, (path, body)
        assert time.monotonic() - started < 20  # bounded by Redis socket timeouts, generously
    status, body = web.request(f"{API}/tasks/{task.id}/execute", token, method="POST")
    assert status == 500
    assert "broker unreachable" in body["detail"]
    lost = TaskExecution.objects.order_by("-id").first()
    assert lost.status == ExecutionStatus.FAILED
    assert lost.started_at is not None and "broker unreachable" in lost.error_message

    private_redis.start()  # same port, empty: like a restart of a Redis that keeps nothing

    def runs_again():
        status, body = web.request(f"{API}/tasks/{task.id}/execute", token, method="POST")
        return body["execution_id"] if status == 200 else None

    execution_id = wait_for(runs_again, timeout=30, interval=1)
    assert wait_for(lambda: finished(execution_id), timeout=90).status == ExecutionStatus.COMPLETED
