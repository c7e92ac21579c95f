"""The documentation site: numbered steps, diagrams with no script or CDN,
and README links that land on the page holding their section."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "docs" / "diagrams"


def test_each_diagram_is_drawn_from_its_current_source() -> None:
    sources = sorted(DIAGRAMS.glob("*.mmd"))
    assert sources
    for source in sources:
        svg = source.with_suffix(".svg").read_text()
        digest = hashlib.sha256(source.read_text().encode()).hexdigest()
        assert f"sha256 {digest}" in svg.split("\n", 1)[0], (
            f"{source.name} changed: run `make diagrams`"
        )
        assert "<foreignObject" not in svg  # drawn as SVG text, shown by <img>


def test_no_page_asks_for_mermaid() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert "```mermaid" not in page.read_text(), page.name


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_links_between_sections_resolve_on_both_sides() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from mkdocs_hooks import PAGES
    finally:
        sys.path.remove(str(ROOT))
    readme = (ROOT / "README.md").read_text()
    headings = {github_anchor(h) for h in re.findall(r"^##+ (.+)$", readme, re.M)}
    links = set(re.findall(r"\]\(#([a-z0-9-]+)\)", readme))
    assert links, "the README links its sections"
    assert links <= headings, links - headings  # on GitHub
    assert links <= set(PAGES), links - set(PAGES)  # on the site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    out = tmp_path_factory.mktemp("site")
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return out


def article(site: Path, page: str) -> str:
    html = (site / page / "index.html").read_text()
    return html[html.index("<article") : html.index("</article>")]


@pytest.mark.parametrize(
    ("page", "steps"), [("quickstart", 5), ("allauth", 5), ("second-factor", 4)]
)
def test_steps_are_one_numbered_list(site: Path, page: str, steps: int) -> None:
    body = article(site, page)
    assert body.count("<ol") == 1, "each step would be numbered 1."
    assert len(re.findall(r"<li>", body)) == steps


def test_diagrams_are_images_and_nothing_comes_from_a_cdn(site: Path) -> None:
    flows = article(site, "flows")
    assert 'src="../diagrams/login.svg"' in flows
    assert 'class="mermaid"' not in flows
    for page in site.rglob("*.html"):
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', page.read_text())
        assert not [s for s in scripts if "//" in s], page
