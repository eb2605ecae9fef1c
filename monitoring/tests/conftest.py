"""Clients of the monitoring API: anonymous, a plain user, and users holding permissions."""

from __future__ import annotations

import copy

import jsonschema
import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

API = "/api/v1/monitoring"
SCHEMA_URL = "/api/v1/schema/"


def client_for(user: User | None) -> APIClient:
    """A client sending the user's token, as a script would (or nothing, when anonymous)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()


@pytest.fixture
def reader(db) -> APIClient:
    """An authenticated user without any permission: may read, may not act."""
    return client_for(User.objects.create_user("reader"))


@pytest.fixture
def operator(db) -> APIClient:
    """A user allowed to run tasks and check connections, and nothing else."""
    user = User.objects.create_user("operator")
    user.user_permissions.add(
        Permission.objects.get(codename="run_task", content_type__app_label="tasks"),
        Permission.objects.get(codename="check_connection", content_type__app_label="connections"),
    )
    return client_for(user)


@pytest.fixture
def admin_client_token(db) -> APIClient:
    """A superuser, who holds every permission."""
    return client_for(User.objects.create_superuser("root"))


@pytest.fixture
def public_read(settings) -> None:
    settings.REVIEWER_PUBLIC_READ = True


def assert_json_error(response, status_code: int) -> str:
    """The response is `status_code` with a JSON {"detail": "<sentence>"} body; the sentence."""
    assert response.status_code == status_code, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert list(body) == ["detail"], body
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


def as_json_schema(node):
    """OpenAPI 3.0 -> JSON Schema: `nullable` becomes a null type; objects become strict."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        elif node:
            node = {"anyOf": [node, {"type": "null"}]}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    return node


@pytest.fixture
def openapi(anonymous) -> dict:
    response = anonymous.get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def check(openapi):
    """check(response, path, method): the status is documented and the body matches it."""
    components = as_json_schema(copy.deepcopy(openapi["components"]))

    def validate(response, path: str, method: str) -> None:
        operation = openapi["paths"][f"{API}/{path}"][method]
        documented = operation["responses"]
        assert str(response.status_code) in documented, f"{method} {path}: {response.status_code} undocumented"
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), {**as_json_schema(schema), "components": components})

    return validate
