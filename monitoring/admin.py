"""The console's model pages, registered on the console site when admin autodiscovery imports
this module (each page's `@admin.register` is in its own module under monitoring/console/)."""

from monitoring.console import connections, findings, notifications, tasks

__all__ = ["connections", "findings", "notifications", "tasks"]
