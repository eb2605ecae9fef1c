from __future__ import annotations

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "connections"

    def ready(self) -> None:
        # The fleet status cache listens for the changes that invalidate it; the module
        # imports the models, which exist only once the apps are loaded.
        from connections import fleet_status

        fleet_status.connect()
