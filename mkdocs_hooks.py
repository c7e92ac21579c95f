"""MkDocs hook: the pages' sections from README.md, with their links.

A page names a README section as ``--8<-- "README.md:name"`` (the text
between the README's ``[start:name]`` and ``[end:name]`` comments). In the
README, ``[Security](#security)`` jumps within the one file; on the site each
section is a page of its own, so the hook points such a link at the page
that holds the section. A README anchor with no page here fails the build,
and MkDocs (strict) checks every link it makes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent / "README.md"
_SNIPPET = re.compile(r'^--8<-- "README\.md:([a-z-]+)"$', re.M)

#: README heading anchors (GitHub's slugs) and the page holding each.
PAGES = {
    "quick-start-in-your-project": "quickstart.md",
    "settings": "settings.md",
    "system-checks": "settings.md#system-checks",
    "management-commands": "settings.md#management-commands",
    "signals": "signals.md",
    "rest-api": "api.md",
    "security": "security.md",
    "the-sandbox": "sandbox.md",
    "testing-your-site": "testing.md",
    "verified-contacts": "contacts.md",
    "step-up-before-sensitive-actions": "step-up.md",
    "trusted-browsers": "trusted-browsers.md",
    "passkeys-after-the-first-code": "passkeys.md",
    "codes-you-make-yourself-the-manual-flow": "manual.md",
    "django-allauth": "allauth.md",
    "a-second-factor-django-two-factor-auth": "second-factor.md",
    "a-second-factor-a-django-otp-device": "second-factor.md#a-second-factor-a-django-otp-device",
    "the-audit-in-the-admin": "admin.md",
    "performance": "performance.md",
    "development": "development.md",
}

_README_LINK = re.compile(r"\]\(#([a-z0-9-]+)\)")


def readme_section(name: str) -> str:
    readme = README.read_text()
    start = readme.index(f"<!-- --8<-- [start:{name}] -->")
    end = readme.index(f"<!-- --8<-- [end:{name}] -->", start)
    return readme[readme.index("\n", start) + 1 : end]


def to_page(match: re.Match[str]) -> str:
    anchor = match[1]
    if anchor not in PAGES:
        raise ValueError(
            f"README link #{anchor} has no page: add it to mkdocs_hooks.py"
        )
    return f"]({PAGES[anchor]})"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    with_sections = _SNIPPET.sub(lambda m: readme_section(m[1]), markdown)
    return _README_LINK.sub(to_page, with_sections)
