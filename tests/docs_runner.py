"""A reader who does what the README says, literally and in its order.

:func:`steps` reads one section's code blocks; :class:`Reader` carries them
out in a folder of its own, the way a person at a terminal would:

- ``sh`` blocks run line by line in one bash session per section, so ``cd``
  and ``export`` hold for the blocks after them. A line ending in ``&``, and
  ``manage.py runserver``, keep running, as in a second terminal, until the
  section ends (:meth:`Reader.close`).
- A block whose first line is a comment naming a file (``# mysite/urls.py``)
  is that file's text: added at its end when the file exists (the text says
  "at the end of"), written as a new file otherwise.
- A ``python`` block naming no file is run with the environment's
  ``python``, in the project's folder.

Nothing is added between the blocks: a step the text does not give is a step
this reader cannot take, and the test fails.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

__all__ = [
    "CHROMIUM",
    "Block",
    "Reader",
    "follow",
    "new_reader",
    "section",
    "steps",
    "unpacked_sdist",
]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The sandbox's address in the README's own commands.
SANDBOX = "http://127.0.0.1:8765"
README = (ROOT / "README.md").read_text()

_FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.S | re.M)
_FILE_NAME = re.compile(r"^(?:#|;) ([\w./-]+\.(?:py|ini|cfg|toml|html))\s*$")
_VARIABLE = re.compile(r"\$(?:(\w+)|\{(\w+)\})")
_LOCAL_PORT = re.compile(r"127\.0\.0\.1:(\d+)")
#: Commands that serve until stopped: a reader leaves them running.
_SERVES = re.compile(r"manage\.py runserver|django_kodmobi\.sandbox(?!.*--help)")


@dataclass(frozen=True)
class Block:
    language: str
    code: str

    @property
    def file_name(self) -> str | None:
        first = self.code.split("\n", 1)[0]
        match = _FILE_NAME.match(first)
        return match[1] if match else None


def section(readme: str, title: str) -> str:
    """The text of the README section ``## title``, up to the next one."""
    start = readme.index(f"\n## {title}\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def steps(text: str) -> list[Block]:
    """The code blocks of ``text``, in order."""
    return [
        Block(language, textwrap.dedent(code))
        for _indent, language, code in _FENCE.findall(text)
    ]


class Reader:
    """Carries out a section's blocks in ``home`` with ``env``."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.cwd = home
        self.env = env
        self.servers: list[subprocess.Popen[bytes]] = []
        self.log = home / "reader.log"
        #: What the last command printed (its standard output).
        self.output = ""

    def do(self, block: Block) -> None:
        if block.file_name:
            self._write(block)
        elif block.language in ("sh", "bash", "console"):
            for line in _commands(block.code):
                self._run(line)
        elif block.language == "python":
            self.run_python(block.code)
        else:
            raise AssertionError(f"no way to follow a {block.language} block")

    def run_commands(self, text: str) -> None:
        """Shell lines the runner itself must type (said where it does)."""
        for line in _commands(text):
            self._run(line)

    def run_python(self, code: str) -> None:
        self._check(["python", "-c", code])

    def _write(self, block: Block) -> None:
        name = block.file_name
        assert name is not None
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as file:
            file.write(("\n" if path.stat().st_size else "") + block.code)

    def _run(self, line: str) -> None:
        words = shlex.split(line, comments=True)
        if not words:
            return
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
        elif words[0] == "export":
            for word in words[1:]:
                name, _, value = word.partition("=")
                self.env[name] = _VARIABLE.sub(
                    lambda m: self.env.get(m[1] or m[2], ""), value
                )
        elif words[-1] == "&" or _SERVES.search(line):
            self._serve([w for w in words if w != "&"])
        else:
            # A reader waits for a server they started before talking to it.
            for port in _LOCAL_PORT.findall(line):
                self.wait_for(f"http://127.0.0.1:{port}/")
            self._check(words)

    def _check(self, command: list[str]) -> None:
        done = subprocess.run(  # noqa: S603 - the README's own commands
            command,
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.output = done.stdout
        with self.log.open("a") as log:
            log.write(f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}\n")
        if done.returncode:
            raise AssertionError(
                f"`{shlex.join(command)}` failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}"
            )

    def _serve(self, command: list[str]) -> None:
        with self.log.open("ab") as output:  # the child keeps its own copy
            self.servers.append(
                subprocess.Popen(  # noqa: S603
                    command,
                    cwd=self.cwd,
                    env=self.env,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
            )

    def wait_for(self, url: str) -> None:
        """Wait until ``url`` answers, as a reader waits for a server to start."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for server in self.servers:
                if server.poll() is not None:
                    raise AssertionError(
                        f"{server.args!r} exited:\n{self.log.read_text()[-3000:]}"
                    )
            try:
                requests.get(url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"{url} did not answer:\n{self.log.read_text()[-3000:]}")

    def close(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(10)
            # runserver's reloader child outlives its parent for a moment,
            # holding the port: the next section's server would not start,
            # and its reader would be answered by this one.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.killpg(server.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


def unpacked_sdist(top: Path) -> Path:
    """``top`` holding ``django-kodmobi``: this checkout's sdist, unpacked
    (what a clone gives a reader). Readers start in folders beside it."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(top)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    sdist = next(top.glob("django_kodmobi-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        archive.extractall(top, filter="data")
    next(top.glob("django_kodmobi-*/")).rename(top / "django-kodmobi")
    return top


def new_reader(home: Path, name: str) -> Reader:
    """A reader in ``home/name`` with a virtual environment of its own.

    The environment sees this interpreter's packages through a ``.pth``
    file (the Django under test, with nothing to download), but not this
    checkout: django-kodmobi is what the text has the reader install.
    """
    folder = home / name
    folder.mkdir()
    venv = folder / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    ours = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (venv / "lib" / version / "site-packages" / "_under_test.pth").write_text(ours)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "KODMOBI_", "PYTHON", "PYTEST", "VIRTUAL_ENV", "COV_")
        )
    }
    path = [str(venv / "bin"), env.get("PATH", ""), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join(path)
    env["VIRTUAL_ENV"] = str(venv)
    return Reader(folder, env)


def follow(reader: Reader, title: str) -> None:
    """Do what the README's section ``title`` says, block after block."""
    for block in steps(section(README, title)):
        reader.do(block)


@contextmanager
def followed(home: Path, name: str, title: str, ready: str) -> Iterator[Reader]:
    """A reader in ``home/name`` who has done section ``title``; its servers
    answer at ``ready`` until the block ends."""
    reader = new_reader(home, name)
    try:
        follow(reader, title)
        reader.wait_for(ready)
        yield reader
    finally:
        reader.close()


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A page in headless Chromium (Debian's), as a person would open one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def inbox_code(to: str) -> str:
    """The newest code the README's sandbox delivered to ``to``."""
    reply = requests.get(f"{SANDBOX}/sandbox/inbox", params={"to": to}, timeout=5)
    return str(reply.json()["messages"][0]["code"])


def _commands(code: str) -> list[str]:
    """The block's command lines, continuation lines joined."""
    return code.replace("\\\n", " ").splitlines()
