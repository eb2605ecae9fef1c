from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    default = True  # the config of the "monitoring" entry in INSTALLED_APPS


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the console's site as `admin.site` (the admin index is the
    fleet dashboard). INSTALLED_APPS lists it in place of "django.contrib.admin"."""

    default = False  # never the config of the "monitoring" entry
    default_site = "monitoring.console.site.ConsoleSite"
