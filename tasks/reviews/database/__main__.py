"""`python -m tasks.reviews.database`: the checks of database_review as a Markdown table, with
their areas, scopes and default thresholds (the README's table is this output)."""

from __future__ import annotations

from tasks.reviews.database.catalog import CHECKS
from tasks.reviews.database.check import CLUSTER


def markdown_table() -> str:
    lines = [
        "| check (finding category) | area | runs | default thresholds | what it reports |",
        "| --- | --- | --- | --- | --- |",
    ]
    for check in CHECKS.values():
        thresholds = "<br>".join(f"`{name}` = {_number(value)}" for name, value in check.thresholds.items()) or "–"
        scope = "once per run" if check.scope == CLUSTER else "per database"
        summary = check.summary.replace("|", "\\|")
        lines.append(f"| `{check.name}` | {check.area} | {scope} | {thresholds} | {summary} |")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


if __name__ == "__main__":
    print(markdown_table(), end="")
