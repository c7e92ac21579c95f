"""The ru catalogue is complete, compiled and current."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = [
    ROOT / "django_kodmobi" / "locale" / "ru" / "LC_MESSAGES",
    ROOT / "example_project" / "locale" / "ru" / "LC_MESSAGES",
]


@pytest.mark.parametrize("folder", CATALOGUES, ids=lambda p: p.parts[-4])
def test_every_string_is_translated(folder: Path) -> None:
    po = polib.pofile(str(folder / "django.po"))
    assert not po.metadata_is_fuzzy
    untranslated = [entry.msgid for entry in po.untranslated_entries()]
    fuzzy = [entry.msgid for entry in po.fuzzy_entries()]
    assert untranslated == [], "untranslated strings"
    assert fuzzy == [], "fuzzy strings"


@pytest.mark.parametrize("folder", CATALOGUES, ids=lambda p: p.parts[-4])
def test_compiled_catalogue_matches(folder: Path) -> None:
    po = polib.pofile(str(folder / "django.po"))
    mo = polib.mofile(str(folder / "django.mo"))
    assert {(e.msgid, e.msgstr) for e in po.translated_entries()} == {
        (e.msgid, e.msgstr) for e in mo if e.msgid
    }


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext")
def test_catalogue_is_current(tmp_path: Path) -> None:
    """makemessages finds no string the committed catalogue lacks."""
    app = tmp_path / "django_kodmobi"
    shutil.copytree(ROOT / "django_kodmobi", app)
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "ru", "--no-obsolete"],
        cwd=app,
        check=True,
        capture_output=True,
        timeout=120,
    )
    fresh = {
        e.msgid for e in polib.pofile(str(app / "locale/ru/LC_MESSAGES/django.po"))
    }
    committed = {e.msgid for e in polib.pofile(str(CATALOGUES[0] / "django.po"))}
    assert fresh - committed == set(), "run `make messages` and translate"
