"""What a review type declares: its name, label, config schema and `run`.

A review is a function `run(task, execution) -> dict` that returns the execution's result
when the review did its job (whatever it found) and raises `ReviewFailed` with a readable,
secret-free message when it could not. It reads its settings from `task.review_config()`:
the task's `config`, checked against the schema, with the defaults filled in.

The schema is checked when a task is saved (`Task.clean()`: the admin and apply_config) and
again before a run, so a typo is refused at once rather than failing the 02:00 run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TYPE_NAMES = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "an object of name: value",
}


class ReviewFailed(Exception):
    """The review could not do its job; the message is shown to users as error_message."""


@dataclass(frozen=True)
class Option:
    """One key of a review's config: its type, default and the values it may take."""

    name: str
    type: type | tuple[type, ...]  # int, float (ints accepted), str, bool, list, dict, or a tuple of them
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not acceptable, or None."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        accepted = (*types, int) if float in types else types
        # bool is an int in Python, but `slow_query_ms: true` is not a number of milliseconds.
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in types):
            return f"{self.name} must be {' or '.join(TYPE_NAMES[t] for t in types)}, not {value!r}"
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(choice) for choice in self.choices)
            return f"{self.name} must be one of {allowed}, not {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"{self.name} must be at least {self.minimum:g}, not {value!r}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.name} must be at most {self.maximum:g}, not {value!r}"
        return None


@dataclass(frozen=True, init=False)
class ConfigSchema:
    """The keys a review's config may hold. `check(config)` adds rules across keys: it gets
    the config with defaults filled in and returns its problems, one sentence each."""

    options: tuple[Option, ...]
    check: Callable[[dict[str, Any]], list[str]] | None = None

    def __init__(self, *options: Option, check: Callable[[dict[str, Any]], list[str]] | None = None) -> None:
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "check", check)

    @property
    def keys(self) -> list[str]:
        return [option.name for option in self.options]

    def problems(self, config: Any) -> list[str]:
        """Everything wrong with `config`, one sentence each; empty when it is valid."""
        if not isinstance(config, Mapping):
            return ["config must be a JSON object"]
        by_name = {option.name: option for option in self.options}
        unknown = sorted(str(key) for key in config if key not in by_name)
        found = []
        if unknown:
            valid = ", ".join(self.keys) if self.options else "none: this task type takes no config"
            found.append(f"unknown key(s) {', '.join(unknown)}; valid keys: {valid}")
        for key, value in config.items():
            if key in by_name and (problem := by_name[key].problem(value)):
                found.append(problem)
        if not found and self.check is not None:
            found.extend(self.check(self.resolve(config)))
        return found

    def resolve(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config with every default filled in (validate it first)."""
        return {option.name: config.get(option.name, option.default) for option in self.options}


@dataclass(frozen=True)
class Review:
    """A review type, as the registry (tasks/reviews/registry.py) lists it."""

    name: str
    label: str
    run: Callable[..., dict[str, Any]]
    config: ConfigSchema = field(default_factory=ConfigSchema)
