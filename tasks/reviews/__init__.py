"""The registry of implemented review types: one module per task type.

A review is a function `run(task, execution) -> dict` that returns the execution's result
when the review did its job (whatever it found) and raises `ReviewFailed` with a readable,
secret-free message when it could not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.models import Task, TaskExecution

Review = Callable[["Task", "TaskExecution"], dict[str, Any]]


class ReviewFailed(Exception):
    """The review could not do its job; the message is shown to users as error_message."""


def _health_check(task: Task, execution: TaskExecution) -> dict[str, Any]:
    from tasks.reviews.health_check import run

    return run(task, execution)


def _log_analysis(task: Task, execution: TaskExecution) -> dict[str, Any]:
    from tasks.reviews.log_analysis import run

    return run(task, execution)


# task_type -> (label, implementation). Only implemented types are listed: an unknown type
# is rejected when a Task is saved.
REVIEWS: dict[str, tuple[str, Review]] = {
    "health_check": ("Health check", _health_check),
    "log_analysis": ("Log analysis", _log_analysis),
}


def task_type_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (label, _) in REVIEWS.items()]


def review_for(task_type: str) -> Review:
    try:
        return REVIEWS[task_type][1]
    except KeyError:
        raise ReviewFailed(f"unknown task type {task_type!r}") from None
