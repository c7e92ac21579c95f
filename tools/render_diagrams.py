"""Render the docs' Mermaid diagrams to SVG files, once, so the docs site
needs no script and nothing from a CDN.

``make diagrams`` runs it after a ``docs/diagrams/*.mmd`` source changes:
each ``NAME.mmd`` becomes ``NAME.svg``, which names the SHA-256 of its
source (``tests/test_docs_site.py`` fails while an SVG is older than its
source). It takes Mermaid from the npm registry and draws with Debian's
Chromium through Playwright.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DIAGRAMS = Path(__file__).resolve().parent.parent / "docs" / "diagrams"
MERMAID = "mermaid@11.17.2"


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def mermaid_script(folder: Path) -> Path:
    subprocess.run(  # noqa: S603
        ["npm", "pack", MERMAID, "--silent", "--pack-destination", str(folder)],  # noqa: S607
        check=True,
        capture_output=True,
    )
    with tarfile.open(next(folder.glob("mermaid-*.tgz"))) as archive:
        archive.extract("package/dist/mermaid.min.js", folder, filter="data")
    return folder / "package" / "dist" / "mermaid.min.js"


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        script = mermaid_script(Path(folder))
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.set_content("<!doctype html><body></body>")
        page.add_script_tag(path=str(script))
        page.evaluate(
            "mermaid.initialize({startOnLoad: false, theme: 'neutral', htmlLabels: false, flowchart: {htmlLabels: false}})"
        )
        for source_file in sorted(DIAGRAMS.glob("*.mmd")):
            source = source_file.read_text()
            svg = page.evaluate(
                "async ([id, text]) => (await mermaid.render(id, text)).svg",
                [source_file.stem, source],
            )
            header = f"<!-- rendered from {source_file.name}, sha256 {source_hash(source)} -->\n"
            source_file.with_suffix(".svg").write_text(header + svg + "\n")
            print(f"{source_file.name} -> {source_file.stem}.svg")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
