"""The one registry of system check IDs (``django_kodmobi.check_ids``): the
README's table is it, every ID is raised somewhere, and every ID has a test
that makes it fire."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_kodmobi.check_ids import CHECK_IDS, check_id

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_table_is_the_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## System checks", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(kodmobi\.[EW]\d{3})` \|", section, re.M)
    assert documented == sorted(CHECK_IDS, key=lambda i: (i[8], i))
    assert len(documented) == len(set(documented))


def test_every_id_is_raised_by_some_check() -> None:
    used = set()
    for source in (ROOT / "django_kodmobi").rglob("*.py"):
        used |= set(
            re.findall(r'check_id\(\s*"(kodmobi\.[EW]\d{3})"', source.read_text())
        )
    assert used == set(CHECK_IDS)


def test_every_id_has_a_test_that_makes_it_fire() -> None:
    named = set()
    for test in (ROOT / "tests").glob("test_*.py"):
        if test.name != Path(__file__).name:
            named |= set(re.findall(r"kodmobi\.[EW]\d{3}", test.read_text()))
    missing = sorted(set(CHECK_IDS) - named)
    assert missing == [], f"no test names {missing}"


def test_an_id_not_in_the_registry_cannot_be_used() -> None:
    assert check_id("kodmobi.E001") == "kodmobi.E001"
    with pytest.raises(LookupError):
        check_id("kodmobi.E999")
