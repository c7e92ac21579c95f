"""The README's sandbox section, followed literally (see test_literal_docs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docs_runner import README, new_reader, section, steps, unpacked_sdist

pytestmark = pytest.mark.docs


def test_the_sandbox_section(tmp_path: Path) -> None:
    """The sandbox starts as written, its help prints, kod.mobi's docs'
    request is answered with a code on Telegram, and the in-process snippet
    runs."""
    reader = new_reader(unpacked_sdist(tmp_path), "sandbox")
    try:
        # The sandbox needs only the package: installed as the Quick start's
        # step 1 says, with no project.
        reader.run_commands("pip install ../django-kodmobi")
        blocks = steps(section(README, "The sandbox"))
        languages = [block.language for block in blocks]
        assert languages == ["sh", "sh", "python"], languages
        reader.do(blocks[0])
        assert "--balance-empty" in reader.output  # the help, every option
        reader.do(blocks[1])
        reply = json.loads(reader.output)
        assert reply["sent_to"] == "telegram", reply
        reader.do(blocks[2])
    finally:
        reader.close()
