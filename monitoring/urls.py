"""Routes under /api/v1/monitoring/ (and, through reviewer/urls.py, the /monitoring/ alias).

Every documented path answers with and without a trailing slash, without a redirect: a
redirect would turn `curl -X POST` into a GET. `<int:...>` accepts ASCII digits only, so a
non-integer id matches nothing and reaches the JSON 404 catch-all.
"""

from __future__ import annotations

from django.urls import path

from monitoring import views

app_name = "monitoring"

ROUTES = [
    ("tasks/executions", views.ExecutionList, "execution-list"),
    ("tasks/running", views.RunningTaskList, "running-task-list"),
    ("tasks/<int:task_id>/executions", views.TaskExecutionList, "task-execution-list"),
    ("tasks/<int:task_id>/execute", views.TaskExecute, "task-execute"),
    ("connections/status", views.ConnectionStatusList, "connection-status-list"),
    ("connections/<int:connection_id>/status", views.ConnectionStatusDetail, "connection-status-detail"),
    ("connections/<int:connection_id>/check", views.ConnectionCheck, "connection-check"),
    ("tasks/executions/<int:execution_id>/findings", views.ExecutionFindingList, "execution-finding-list"),
    ("findings", views.FindingList, "finding-list"),
]

# The documented form (no slash) is also what the OpenAPI schema lists.
documented_urlpatterns = [path(route, view.as_view(), name=name) for route, view, name in ROUTES]
urlpatterns = documented_urlpatterns + [path(f"{route}/", view.as_view()) for route, view, _ in ROUTES]
