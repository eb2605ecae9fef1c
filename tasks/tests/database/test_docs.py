"""The README's table of checks is what the catalog holds: every check, its area, scope and
default thresholds (regenerate it with `python -m tasks.reviews.database`)."""

from __future__ import annotations

from pathlib import Path

from tasks.reviews.database.__main__ import markdown_table
from tasks.reviews.database.catalog import CHECKS
from tasks.reviews.database.check import AREAS

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_lists_every_check_with_its_defaults():
    text = README.read_text()
    start = text.index("<!-- checks table: python -m tasks.reviews.database -->\n") + len(
        "<!-- checks table: python -m tasks.reviews.database -->\n"
    )
    end = text.index("<!-- end of checks table -->")
    assert text[start:end] == markdown_table()


def test_every_check_has_an_area_a_summary_and_distinct_thresholds():
    seen = set()
    for check in CHECKS.values():
        assert check.area in AREAS, check.name
        assert check.summary.strip(), check.name
        assert not seen & set(check.thresholds), check.name
        seen |= set(check.thresholds)
