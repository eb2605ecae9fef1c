"""A token's lookup is cached briefly (API_TOKEN_CACHE_SECONDS), never under the token itself,
and revoking the token or its user through the service takes effect on the next request."""

from __future__ import annotations

import time

from django.contrib.auth.models import Permission, User
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitoring.api.authentication import CachedTokenAuthentication
from monitoring.tests.conftest import API, assert_json_error
from tasks.tests.factories import TaskFactory

URL = f"{API}/connections/status"


def script(user: User) -> tuple[APIClient, Token]:
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, token


def token_queries(client: APIClient, url: str = URL) -> int:
    with CaptureQueriesContext(db_connection) as queries:
        assert client.get(url).status_code == 200
    return sum("authtoken_token" in query["sql"] for query in queries.captured_queries)


def test_a_token_is_looked_up_once_then_read_from_the_cache(db):
    client, _ = script(User.objects.create_user("monitoring"))

    assert token_queries(client) == 1
    assert token_queries(client) == 0
    assert token_queries(client, f"{API}/tasks/running") == 0


def test_the_cache_holds_neither_the_token_nor_the_password_hash(db):
    user = User.objects.create_user("monitoring", password="pw-not-in-redis-1234")
    client, token = script(user)
    client.get(URL)

    redis = get_redis_connection("default")
    entries = {key: redis.dump(key) for key in redis.scan_iter("*api-token:*")}
    assert len(entries) == 1
    for key, value in entries.items():
        assert token.key.encode() not in key and token.key.encode() not in value
        assert user.password.encode() not in value
        assert user.password.split("$")[-1].encode() not in value


def test_a_deleted_token_is_refused_on_the_next_request(db):
    client, token = script(User.objects.create_user("monitoring"))
    client.get(URL)

    token.delete()

    assert assert_json_error(client.get(URL), 401) == "Invalid token."


def test_a_deactivated_user_is_refused_on_the_next_request(db):
    user = User.objects.create_user("monitoring")
    client, _ = script(user)
    client.get(URL)

    user.is_active = False
    user.save()

    assert_json_error(client.get(URL), 401)


def test_a_deleted_user_is_refused_on_the_next_request(db):
    user = User.objects.create_user("monitoring")
    client, _ = script(user)
    client.get(URL)

    user.delete()

    assert_json_error(client.get(URL), 401)


def test_a_token_deleted_past_the_service_is_refused_within_the_cache_time(db, settings):
    settings.API_TOKEN_CACHE_SECONDS = 1
    client, token = script(User.objects.create_user("monitoring"))
    client.get(URL)
    with db_connection.cursor() as cursor:  # no signal: another tool, raw SQL
        cursor.execute("DELETE FROM authtoken_token WHERE key = %s", [token.key])

    time.sleep(1.5)

    assert_json_error(client.get(URL), 401)


def test_permissions_are_read_on_each_request_not_cached_with_the_user(db):
    user = User.objects.create_user("operator")
    client, _ = script(user)
    task = TaskFactory()
    execute = f"{API}/tasks/{task.id}/execute"
    assert_json_error(client.post(execute), 403)

    user.user_permissions.add(Permission.objects.get(codename="run_task", content_type__app_label="tasks"))

    assert client.post(execute).status_code == 200


def test_saving_a_user_read_from_the_cache_keeps_its_password(db):
    user = User.objects.create_user("monitoring", password="pw-kept-after-save-1234")
    _, token = script(user)
    authentication = CachedTokenAuthentication()
    authentication.authenticate_credentials(token.key)
    with CaptureQueriesContext(db_connection) as queries:
        cached, _ = authentication.authenticate_credentials(token.key)
    assert queries.captured_queries == []  # this user came from the cache

    cached.first_name = "Monitoring"
    cached.save()

    user.refresh_from_db()
    assert user.first_name == "Monitoring"
    assert user.check_password("pw-kept-after-save-1234")
