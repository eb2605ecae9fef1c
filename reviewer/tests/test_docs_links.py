"""The documentation holds together: every relative link in README.md and docs/ leads to a file
of the repository, every anchor to a heading, and no text cites a document that is not in it.

Plain file reading: no database, no Redis, no other service.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The Markdown files whose links are checked.
DOCUMENTS = ("README.md", "docs/*.md")

# The text files whose every mention of a Markdown document must lead to one in the repository.
CITING_FILES = ("README.md", "docs/*.md", "**/*.py", "templates/**/*.html", "scripts/*.sh", "Makefile", "bench/*.md")
# A Markdown document named in text: a path or a bare name ending in .md.
NAMED_DOCUMENT = re.compile(r"(?<![\w./-])((?:\.{1,2}/|/)?[\w][\w./-]*\.md)\b")
# Never searched: tools' and caches' folders, and this file (its examples name missing files).
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", "staticfiles", "test-artifacts"}
THIS_FILE = Path(__file__).resolve()

# Fenced code blocks and inline code are not Markdown links, whatever brackets they hold.
FENCED_CODE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[`~]*[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
# [text](target) and ![alt](target), with an optional "title"; and [label]: target definitions.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


@pytest.fixture(autouse=True)
def _clean_cache_and_queues():
    """Overrides the shared fixture of conftest.py: these tests read files, and touch no cache
    or broker."""
    yield


def files_matching(patterns: tuple[str, ...]) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        for path in ROOT.glob(pattern):
            relative = path.relative_to(ROOT)
            if path.is_file() and not SKIPPED_DIRS.intersection(relative.parts) and path.resolve() != THIS_FILE:
                found.add(path)
    return sorted(found)


def without_code_blocks(markdown: str) -> str:
    return FENCED_CODE.sub("", markdown)


def without_code(markdown: str) -> str:
    return INLINE_CODE.sub("", without_code_blocks(markdown))


def link_targets(markdown: str) -> list[str]:
    text = without_code(markdown)
    return [target for target in INLINE_LINK.findall(text) + DEFINITION.findall(text) if target]


def relative_links(path: Path) -> list[tuple[str, Path, str]]:
    """(link as written, file it points to, anchor or "") for each relative link in `path`."""
    links = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        if EXTERNAL.match(target) or target.startswith("#"):
            continue
        file_part, _, anchor = target.partition("#")
        links.append((target, (path.parent / unquote(file_part)).resolve(), anchor))
    return links


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces to hyphens,
    a repeated one numbered (-1, -2, ...)."""
    anchors: set[str] = set()
    for heading in HEADING.findall(without_code_blocks(markdown)):
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        anchor, number = slug, 0
        while anchor in anchors:
            number += 1
            anchor = f"{slug}-{number}"
        anchors.add(anchor)
    return anchors


def anchors_in(path: Path) -> set[str]:
    return heading_anchors(path.read_text(encoding="utf-8"))


def test_there_are_documents_to_check():
    names = {path.relative_to(ROOT).as_posix() for path in files_matching(DOCUMENTS)}
    assert {"README.md", "docs/api.md", "docs/configuration.md", "docs/architecture.md", "docs/development.md"} <= names


@pytest.mark.parametrize("document", files_matching(DOCUMENTS), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(document):
    broken = [
        target
        for target, resolved, _ in relative_links(document)
        if not resolved.exists() or not resolved.is_relative_to(ROOT)
    ]
    assert broken == []


@pytest.mark.parametrize("document", files_matching(DOCUMENTS), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_anchor_names_a_heading(document):
    text = document.read_text(encoding="utf-8")
    own = [target for target in link_targets(text) if target.startswith("#")]
    broken = [target for target in own if target[1:] not in heading_anchors(text)]
    broken += [
        target
        for target, resolved, anchor in relative_links(document)
        if anchor and resolved.suffix == ".md" and resolved.is_file() and anchor not in anchors_in(resolved)
    ]
    assert broken == []


def names_a_document_of_the_repository(name: str, cited_in: Path) -> bool:
    """Whether `name` is a Markdown file of the repository: as a path from the citing file or
    from the root, or (a bare name in a comment) as a file name somewhere in the tree."""
    for base in (cited_in.parent, ROOT):
        candidate = (base / name).resolve()
        if candidate.is_relative_to(ROOT) and candidate.is_file():
            return True
    return "/" not in name and any(files_matching((f"**/{name}",)))


def test_every_document_a_text_names_is_in_the_repository():
    missing = [
        f"{path.relative_to(ROOT)}:{number}: {name}"
        for path in files_matching(CITING_FILES)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for name in NAMED_DOCUMENT.findall(line)
        if not names_a_document_of_the_repository(name, path)
    ]
    assert missing == []


def test_the_link_finder_sees_links_and_images_but_not_code():
    markdown = (
        'See [the API](docs/api.md#paths) and ![a chart](docs/dashboard.png "Fleet").\n'
        "[ref]: docs/configuration.md\n"
        "`[not](a-link.md)` and [site](https://example.com).\n"
        '```bash\n[ "$X" -gt 0 ] && echo [x](y.md)\n```\n'
    )
    assert link_targets(markdown) == [
        "docs/api.md#paths",
        "docs/dashboard.png",
        "https://example.com",
        "docs/configuration.md",
    ]


def test_the_anchor_maker_follows_githubs_rules():
    markdown = "# Monitoring API\n## GET /tasks/{task_id}/executions\n### Task `config` keys\n## Notes\n## Notes\n"
    assert heading_anchors(markdown) == {
        "monitoring-api",
        "get-taskstask_idexecutions",
        "task-config-keys",
        "notes",
        "notes-1",
    }


def test_a_document_outside_the_repository_is_not_taken_for_one_in_it():
    readme = ROOT / "README.md"
    assert names_a_document_of_the_repository("docs/api.md", readme)
    assert names_a_document_of_the_repository("api.md", ROOT / "docs" / "development.md")
    assert not names_a_document_of_the_repository("../notes/decisions.md", readme)
    assert not names_a_document_of_the_repository("/srv/team/decisions.md", readme)
    assert not names_a_document_of_the_repository("decisions.md", readme)
    assert NAMED_DOCUMENT.findall("see ../notes/decisions.md and `docs/api.md`.") == [
        "../notes/decisions.md",
        "docs/api.md",
    ]
