from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self) -> None:
        # Connected here, not imported by the apps that send them: connections and tasks
        # stay below notifications. The config section joins apply_config the same way.
        from notifications import config, receivers

        receivers.connect()
        config.register()
