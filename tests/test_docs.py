"""The README is a front door and the docs hold together: the README stays short, every relative
link in README.md and docs/*.md reaches a file (images included) and, for a Markdown page, a
heading, and the README links to every docs page. Plain files: no Django, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def links(page: Path) -> list[str]:
    """The link and image targets of a Markdown page, outside code blocks and code spans."""
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text)


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("#")


def anchors(page: Path) -> set[str]:
    """GitHub's ids for the headings of a Markdown page."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    ids = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        ids.add(slug)
    return ids


def test_readme_is_at_most_150_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file(page: Path) -> None:
    broken = []
    for target in filter(relative, links(page)):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_readme_links_to_every_docs_page() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in filter(relative, links(README))}
    missing = [str(p.relative_to(ROOT)) for p in DOCS if p.resolve() not in linked]
    assert DOCS and not missing, f"README.md does not link to {missing}"


def test_link_finder_sees_links_and_images_but_not_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[a](a.md) ![b](b.png \"t\") `[c](c.md)` [d](https://x.org) [e](#f)\n"
                    "```\n[g](g.md)\n```\n", encoding="utf-8")
    assert links(page) == ["a.md", "b.png", "https://x.org", "#f"]
    assert list(filter(relative, links(page))) == ["a.md", "b.png"]


def test_heading_ids_follow_github(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Top\n## ml/: the models\n### Uploads and `limits`\n```\n# not a heading\n```\n",
                    encoding="utf-8")
    assert anchors(page) == {"top", "ml-the-models", "uploads-and-limits"}
