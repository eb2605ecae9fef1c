"""`python manage.py apply_config FILE.yml`: upsert connections, tasks and the sections other
apps register (notification rules) from a YAML file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tasks.config_file import ConfigError, Tally, apply_config, load_config


class Command(BaseCommand):
    help = (
        "Create or update connections and tasks, by name, from a YAML file (format: docs/configuration.md). "
        "The file is applied in one transaction or not at all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="YAML file with `connections:`, `tasks:` and/or `notifications:` lists")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report what would change, without applying it"
        )

    def handle(self, *args, file: str, dry_run: bool, verbosity: int, **options) -> None:
        try:
            result = apply_config(load_config(file), dry_run=dry_run)
        except ConfigError as exc:
            lines = "\n".join(f"  {error}" for error in exc.errors)
            raise CommandError(f"{file}: nothing applied:\n{lines}") from None
        prefix = "dry run, nothing applied: " if dry_run else ""
        self.stdout.write(f"{prefix}connections: {result.connections.summary()}")
        self.stdout.write(f"{prefix}tasks: {result.tasks.summary()}")
        for name, tally in result.sections.items():
            self.stdout.write(f"{prefix}{name}: {tally.summary()}")
        if verbosity >= 2:
            self._list("connection", result.connections)
            self._list("task", result.tasks)
            for name, tally in result.sections.items():
                self._list(name, tally)

    def _list(self, kind: str, tally: Tally) -> None:
        for action in ("created", "updated", "unchanged"):
            for name in getattr(tally, action):
                self.stdout.write(f"  {kind} {name!r}: {action}")
