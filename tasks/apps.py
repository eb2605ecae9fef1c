from __future__ import annotations

from django.apps import AppConfig


class TasksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks"

    def ready(self) -> None:
        # The review modules import the models, so the registry is loaded once the models
        # are, and `Task` reads it from here (tasks.models.review_types) instead of
        # importing it back.
        from tasks.reviews.registry import REVIEWS

        self.reviews = REVIEWS
