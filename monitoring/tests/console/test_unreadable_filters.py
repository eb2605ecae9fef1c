"""A list URL the database or Python's dates cannot take is a 400, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

REFUSED = [
    "/admin/connections/connection/?is_active__exact=%00",
    "/admin/tasks/task/?task_type__exact=%00",
    "/admin/tasks/finding/?category__exact=%00",
    "/admin/tasks/taskexecution/?task__task_type__exact=a%00",
    "/admin/tasks/taskexecution/?q=%00",
    "/admin/connections/connectionstatus/?checked_at__year=9999",
    "/admin/connections/connectionstatus/?checked_at__year=99999999999999999999999",
    "/admin/connections/connectionstatus/?checked_at__year=2026&checked_at__month=13",
    "/admin/tasks/finding/?created_at__year=2026&created_at__month=2&created_at__day=40",
]


@pytest.mark.parametrize("url", REFUSED)
def test_an_unreadable_filter_is_a_400_with_a_plain_reason(admin_client, url):
    response = admin_client.get(url)

    assert response.status_code == 400
    assert response.content.decode().startswith("Bad request: ")


def test_an_ordinary_drill_down_still_works(admin_client):
    assert admin_client.get("/admin/connections/connectionstatus/?checked_at__year=2026").status_code == 200
