"""Declarative configuration: upsert connections and tasks by name from a YAML file.

Apps above this one add sections of their own through `register_section` (notifications
adds `notifications:`); they are checked and written in the same pass and transaction.

The file format is described in docs/configuration.md. The file is the
truth for every entry it lists: an optional key left out resets that field to its default (so
removing `vault_path` from the file clears it). Entries the file does not list are left alone.

Everything is validated before anything is written, and the writes run in one transaction:
an invalid file changes nothing. Every error names its entry and field, e.g.
`tasks[0] "Daily Log Analysis": task_type: unknown type 'foo'; implemented: database_review, health_check, log_analysis`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction

from connections.models import Connection
from tasks.models import Task, review_types

SECTIONS = ("connections", "tasks")  # this module's own; other apps add theirs (register_section)

# key -> the Python type YAML must produce for it. `name` is required everywhere.
CONNECTION_KEYS: dict[str, type] = {
    "name": str,
    "host": str,
    "port": int,
    "database": str,
    "username": str,
    "vault_path": str,
    "vault_database_role": str,
    "sslmode": str,
    "sslrootcert": str,
    "connect_timeout": int,
    "is_active": bool,
}
CONNECTION_REQUIRED = ("name", "host", "database")

TASK_KEYS: dict[str, type] = {
    "name": str,
    "task_type": str,
    "connection": str,
    "schedule": str,
    "config": dict,
    "timeout_seconds": int,
    "is_active": bool,
}
TASK_REQUIRED = ("name", "task_type", "connection")

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "a mapping", list: "a list"}


class ConfigError(Exception):
    """The file is invalid; `errors` lists every problem found, one line each."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Tally:
    """What applying the file did (or would do) to one kind of object."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


@dataclass
class ApplyResult:
    connections: Tally = field(default_factory=Tally)
    tasks: Tally = field(default_factory=Tally)
    sections: dict[str, Tally] = field(default_factory=dict)  # the registered sections, by name


Plan = tuple[models.Model, list[str] | None]  # (instance, changed fields; None = new)


@dataclass(frozen=True)
class ConfigSection:
    """A section of the file owned by an app above this one, which registers it from its
    AppConfig.ready() (notifications adds `notifications:`), so that one file and one
    transaction cover everything while tasks imports nothing above it.

    - `plan(entries, connections, errors)` checks every entry and returns what to write,
      writing nothing. It appends one line per problem to `errors`, naming the entry and the
      field. `connections` maps each name in the file's `connections:` to its plan (None for
      an invalid entry, whose errors are already reported); the instances may be unsaved.
    - `save(planned)` writes it, after the file's connections and tasks, in the same
      transaction, and says what it did.
    """

    name: str
    plan: Callable[[list[dict[str, Any]], dict[str, Plan | None], list[str]], Any]
    save: Callable[[Any], Tally]


_REGISTERED: dict[str, ConfigSection] = {}


def register_section(section: ConfigSection) -> None:
    _REGISTERED[section.name] = section


def all_sections() -> tuple[str, ...]:
    return SECTIONS + tuple(_REGISTERED)


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error
    (PyYAML silently keeps the last one, which hides typos such as two `port:` lines)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read and parse the file; only its overall shape is checked here."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path} is not UTF-8 text"]) from None
    return parse_config(text)


def parse_config(text: str) -> dict[str, list[dict[str, Any]]]:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {_one_line(exc)}"]) from None
    sections = all_sections()
    names = [f"`{name}:`" for name in sections]
    expected = f"a mapping with {', '.join(names[:-1])} and/or {names[-1]} lists"
    if data is None:
        raise ConfigError([f"the file is empty; expected {expected}"])
    if not isinstance(data, dict):
        raise ConfigError([f"expected {expected}, not {type_name(data)}"])
    errors = [f"{key}: unknown key; expected one of: {', '.join(sections)}" for key in data if key not in sections]
    for section in sections:
        entries = data.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            errors.append(f"{section}: must be a list of entries, not {type_name(entries)}")
        else:
            errors.extend(
                f"{section}[{i}]: must be a mapping, not {type_name(entry)}"
                for i, entry in enumerate(entries)
                if not isinstance(entry, dict)
            )
    if errors:
        raise ConfigError(errors)
    return {section: data.get(section) or [] for section in sections}


def apply_config(config: dict[str, list[dict[str, Any]]], dry_run: bool = False) -> ApplyResult:
    """Validate every entry, then upsert them all; one transaction (rolled back if dry_run)."""
    result = ApplyResult()
    try:
        with transaction.atomic():
            # Validation reads the rows it will update inside the same transaction; nothing
            # is written unless every entry is valid.
            errors: list[str] = []
            connections = _plan_connections(config["connections"], errors)
            tasks = _plan_tasks(config["tasks"], connections, errors)
            others = {
                name: section.plan(config.get(name) or [], connections, errors) for name, section in _REGISTERED.items()
            }
            if errors:
                raise ConfigError(errors)
            for instance, changed in filter(None, connections.values()):
                save_planned(instance, changed, result.connections)
            # A task's connection may have been created just above; Django takes its new
            # id when the task is saved.
            for instance, changed in tasks:
                save_planned(instance, changed, result.tasks)
            for name, planned in others.items():
                result.sections[name] = _REGISTERED[name].save(planned)
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError as exc:
        # Another writer (a second apply_config, the admin) created the same name meanwhile.
        raise ConfigError([f"the database changed while applying the file; run it again ({_one_line(exc)})"]) from None
    return result


# --- planning: build model instances without writing anything ---------------------------------


def _plan_connections(entries: list[dict[str, Any]], errors: list[str]) -> dict[str, Plan | None]:
    """name -> (Connection with the file's values, changed fields) for every entry.

    An invalid entry maps to None: tasks may still name it without a second, misleading
    "does not exist" error (its own errors are already reported).
    """
    existing = {c.name: c for c in Connection.objects.filter(name__in=entry_names(entries))}
    planned: dict[str, Plan | None] = {}
    for index, entry in enumerate(entries):
        problems = check_keys(entry, CONNECTION_KEYS, CONNECTION_REQUIRED)
        name = entry.get("name")
        if isinstance(name, str) and name in planned:
            problems.append(("name", "listed twice in `connections`"))
        if entry.get("vault_path") and entry.get("vault_database_role"):
            problems.append(("vault_database_role", "set at most one of vault_path and vault_database_role"))
        instance = existing.get(name) if isinstance(name, str) else None
        is_new = instance is None
        instance = instance or Connection()
        changed = _assign(instance, entry, CONNECTION_KEYS, is_new, skip=problem_fields(problems))
        problems += full_clean_problems(instance, exclude=problem_fields(problems))
        errors.extend(format_problems(entry_label("connections", index, entry), problems))
        if isinstance(name, str):
            planned.setdefault(name, None if problems else (instance, changed))
    return planned


def _plan_tasks(entries: list[dict[str, Any]], connections: dict[str, Plan | None], errors: list[str]) -> list[Plan]:
    existing = {t.name: t for t in Task.objects.filter(name__in=entry_names(entries)).select_related("connection")}
    referenced = {e.get("connection") for e in entries if isinstance(e.get("connection"), str)}
    in_db = {c.name: c for c in Connection.objects.filter(name__in=referenced - set(connections))}
    planned: list[Plan] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        problems = check_keys(entry, TASK_KEYS, TASK_REQUIRED)
        name = entry.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(("name", "listed twice in `tasks`"))
            seen.add(name)
        task_type = entry.get("task_type")
        if isinstance(task_type, str) and task_type not in review_types():
            implemented = ", ".join(sorted(review_types()))
            problems.append(("task_type", f"unknown type {task_type!r}; implemented: {implemented}"))
        connection_name = entry.get("connection")
        connection = None
        if isinstance(connection_name, str) and connection_name in connections:
            plan = connections[connection_name]
            connection = plan[0] if plan else None  # None: its entry is invalid, already reported
        elif isinstance(connection_name, str) and connection_name in in_db:
            connection = in_db[connection_name]
        elif isinstance(connection_name, str):
            problems.append(("connection", f"no connection named {connection_name!r} in the file or the database"))
        instance = existing.get(name) if isinstance(name, str) else None
        is_new = instance is None
        instance = instance or Task()
        skip = problem_fields(problems) | ({"connection"} if connection is None else set())
        # Task.save() replans next_run_at itself when the schedule or is_active changes.
        changed = _assign(instance, {**entry, "connection": connection}, TASK_KEYS, is_new, skip=skip)
        # The connection is checked by name above (and by its own entry); it may not be saved yet.
        problems += full_clean_problems(instance, exclude=skip | {"connection"})
        errors.extend(format_problems(entry_label("tasks", index, entry), problems))
        if not problems and connection is not None:
            planned.append((instance, changed))
    return planned


def check_keys(entry: dict[str, Any], keys: dict[str, type], required: tuple[str, ...]) -> list[tuple[str, str]]:
    """Unknown keys, missing required keys and wrong YAML types, as (field, message)."""
    problems: list[tuple[str, str]] = []
    for key in entry:
        if key not in keys:
            problems.append((str(key), f"unknown key; expected one of: {', '.join(keys)}"))
    for key in required:
        if entry.get(key) in (None, ""):
            problems.append((key, "required"))
    for key, expected in keys.items():
        value = entry.get(key)
        if value is None:
            continue  # null = not given: the default applies
        # bool is a subclass of int in Python, but `port: true` is not a port.
        wrong = not isinstance(value, expected) or (expected is int and isinstance(value, bool))
        if wrong:
            hint = " (quote it in YAML)" if expected is str and isinstance(value, int | float) else ""
            problems.append((key, f"must be {_TYPE_NAMES[expected]}, not {type_name(value)}{hint}"))
    return problems


def _assign(
    instance: models.Model, entry: dict[str, Any], keys: dict[str, type], is_new: bool, skip: set[str]
) -> list[str] | None:
    """Set every field the file governs (a missing or null key = the field's default), except
    the fields in `skip` (already found invalid); return the fields that differ from the
    stored row, or None for a new row."""
    changed: list[str] = []
    for key in keys:
        if key in skip:
            continue
        value = entry.get(key)
        if value is None:
            value = instance._meta.get_field(key).get_default()
        if key == "connection":
            if instance.connection_id is None or instance.connection_id != value.pk:
                changed.append(key)
            instance.connection = value
            continue
        if getattr(instance, key) != value:
            changed.append(key)
            setattr(instance, key, value)
    return None if is_new else changed


def full_clean_problems(instance: models.Model, exclude: set[str]) -> list[tuple[str, str]]:
    """The model's own validation (validators, choices, lengths, clean()), as (field, message)."""
    try:
        instance.full_clean(exclude=sorted(exclude))
    except ValidationError as exc:
        return [
            ("" if name == NON_FIELD_ERRORS else name, message)
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return []


def problem_fields(problems: list[tuple[str, str]]) -> set[str]:
    return {name for name, _ in problems if name}


def save_planned(instance: models.Model, changed: list[str] | None, tally: Tally) -> None:
    if changed is None:
        instance.save()
        tally.created.append(instance.name)
    elif changed:
        instance.save()
        tally.updated.append(instance.name)
    else:
        tally.unchanged.append(instance.name)


# --- messages -------------------------------------------------------------------------------


def entry_names(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries if isinstance(e.get("name"), str)]


def entry_label(section: str, index: int, entry: dict[str, Any]) -> str:
    name = entry.get("name")
    return f'{section}[{index}] "{name}"' if isinstance(name, str) and name else f"{section}[{index}]"


def format_problems(label: str, problems: list[tuple[str, str]]) -> list[str]:
    return [f"{label}: {name}: {message}" if name else f"{label}: {message}" for name, message in problems]


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
