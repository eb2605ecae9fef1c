"""/healthz and /readyz, for load balancers and orchestrators (README "Health endpoints").

- /healthz: the process answers. No I/O, so it never fails because a dependency does.
- /readyz: the application database answers, both Redis databases (broker and cache) answer,
  and beat and a worker of each queue recorded liveness recently (tasks/liveness.py). 200
  when every check passes, 503 naming the ones that failed.

Both are served by a middleware placed first, before host validation and the https redirect:
a load balancer or an orchestrator probes a backend by its address, over plain http. Neither
needs authentication, so neither says more than a check's name, whether it passed, and why
not in a few words: no host names, addresses, URLs or exception texts (those go to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_redis import get_redis_connection

from tasks.broker import celery_queues
from tasks.liveness import BEAT_KEY, last_seen, worker_key

logger = logging.getLogger(__name__)

Check = dict[str, object]


def _failed(name: str, exc: Exception) -> Check:
    logger.warning("readiness: %s check failed: %s", name, exc)
    return {"ok": False, "error": f"unreachable ({type(exc).__name__})"}


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "does not answer"
        return _failed("database", exc)
    return {"ok": True}


def check_cache() -> Check:
    try:
        # The raw client: the cache API ignores Redis errors on purpose (IGNORE_EXCEPTIONS).
        get_redis_connection("default").ping()
    except Exception as exc:
        return _failed("cache", exc)
    return {"ok": True}


def _liveness_check(age: float | None, processes: int, window: int, what: str) -> Check:
    seen = {"seen_seconds_ago": None if age is None else round(age, 1)}
    if processes:
        return {"ok": True, **seen}
    if age is None:
        return {"ok": False, **seen, "error": f"no {what} has been seen"}
    return {"ok": False, **seen, "error": f"{what} last seen {round(age)} s ago (limit {window} s)"}


def check_broker_and_processes() -> dict[str, Check]:
    """The broker answers, and beat and each queue's workers were seen: one round trip."""
    queues = celery_queues()
    windows = {BEAT_KEY: settings.READINESS_BEAT_SEEN_SECONDS}
    windows |= {worker_key(queue): settings.READINESS_WORKER_SEEN_SECONDS for queue in queues}
    try:
        seen = last_seen(windows)
    except Exception as exc:  # redis raises many types for "unreachable"
        broker = _failed("broker", exc)
        unknown = {"ok": False, "error": "not checked: the broker is unreachable"}
        return {"broker": broker, "beat": unknown} | {f"workers:{queue}": unknown for queue in queues}
    checks = {"broker": {"ok": True}}
    beat = seen[BEAT_KEY]
    checks["beat"] = _liveness_check(beat.age_seconds, beat.processes, windows[BEAT_KEY], "beat")
    for queue in queues:
        workers = seen[worker_key(queue)]
        window = settings.READINESS_WORKER_SEEN_SECONDS
        check = _liveness_check(workers.age_seconds, workers.processes, window, f"worker of queue {queue}")
        checks[f"workers:{queue}"] = {**check, "workers": workers.processes}
    return checks


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks = {"database": check_database(), "cache": check_cache(), **check_broker_and_processes()}
    failed = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks}
    return JsonResponse(body, status=503 if failed else 200)


ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


class HealthEndpointsMiddleware:
    """Answers /healthz and /readyz before any other middleware (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            response["Allow"] = "GET, HEAD"
        else:
            response = endpoint(request)
        response["Cache-Control"] = "no-store"
        return response
