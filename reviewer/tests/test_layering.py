"""Imports run one way: monitoring (API and console) -> notifications -> tasks -> connections
-> settings.

Parsed from the source, not imported: a plain test of the code's shape, with no services.
Test modules and migrations are left out (tests may reach across apps to set up data).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("connections", "tasks", "notifications", "monitoring", "reviewer")
# What each app may import of the others. `reviewer` is the project: its urls.py mounts the
# read side; everything else in it (settings, celery, wsgi, asgi) imports no app.
ALLOWED = {
    "connections": {"connections"},
    "tasks": {"tasks", "connections"},
    "notifications": {"notifications", "tasks", "connections"},
    "monitoring": {"monitoring", "notifications", "tasks", "connections"},
    "reviewer": {"reviewer"},
    "reviewer.urls": {"reviewer", "monitoring"},
}
# Imports inside functions that are not there to dodge a cycle: an AppConfig.ready() that
# loads what imports the models, as Django requires (the review registry; the receivers and
# the config section through which notifications hears from the apps below it).
DEFERRED_ALLOWED = {
    ("connections.apps", "connections.fleet_status"),
    ("monitoring.apps", "monitoring.api.authentication"),
    ("tasks.apps", "tasks.reviews.registry"),
    ("notifications.apps", "notifications.config"),
    ("notifications.apps", "notifications.receivers"),
}


def first_party_modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts or "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(first-party module imported, whether the import is inside a function)."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking_block(child):
                continue  # never executed: annotations only
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, nested) for alias in child.names if alias.name.split(".")[0] in APPS)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module.split(".")[0] in APPS:
                    for alias in child.names:
                        target = f"{child.module}.{alias.name}"
                        found.append((target if target in modules else child.module, nested))
            visit(child, nested)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = first_party_modules()
    return {name: {target for target, _ in imports_of(path, modules)} - {name} for name, path in modules.items()}


def layer_of(module: str) -> str:
    return "reviewer.urls" if module == "reviewer.urls" else module.split(".")[0]


def test_no_module_imports_against_the_layering():
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if target.split(".")[0] not in ALLOWED[layer_of(module)]
    ]
    assert wrong == []


def test_there_is_no_import_cycle():
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert [" -> ".join(cycle) for cycle in cycles] == []


def test_no_first_party_import_is_deferred_into_a_function():
    modules = first_party_modules()
    deferred = [
        (module, target)
        for module, path in modules.items()
        for target, in_function in imports_of(path, modules)
        if in_function and (module, target) not in DEFERRED_ALLOWED
    ]
    assert deferred == []


def test_the_checker_sees_a_cycle_and_a_wrong_way_import(tmp_path):
    # The rules above must be able to fail: a module of connections that imports tasks is
    # both against the layering and, with tasks importing connections, a cycle.
    source = "from tasks.models import Task\n\ndef f():\n    from monitoring import api\n"
    path = tmp_path / "mod.py"
    path.write_text(source)
    modules = {"tasks.models": path}
    assert imports_of(path, modules) == [("tasks.models", False), ("monitoring", True)]
