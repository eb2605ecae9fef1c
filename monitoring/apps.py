from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    default = True  # the config of the "monitoring" entry in INSTALLED_APPS

    def ready(self) -> None:
        # The API's token cache listens for revocations (a deleted token, a saved user); the
        # module imports the token model, which exists only once the apps are loaded.
        from monitoring.api import authentication

        authentication.connect()


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the console's site as `admin.site` (the admin index is the
    fleet dashboard). INSTALLED_APPS lists it in place of "django.contrib.admin"."""

    default = False  # never the config of the "monitoring" entry
    default_site = "monitoring.console.site.ConsoleSite"
