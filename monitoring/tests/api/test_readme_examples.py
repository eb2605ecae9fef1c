"""The README shows the document's alerting scripts exactly as the tests run them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_readme_carries_both_alerting_scripts_verbatim():
    readme = (ROOT / "README.md").read_text()
    for script in sorted((Path(__file__).parent / "alerting").glob("*.sh")):
        assert script.read_text().strip() in readme, script.name
