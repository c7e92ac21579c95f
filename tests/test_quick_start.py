"""The README's Quick start, followed literally in a new project.

The code blocks are read from README.md, so when the README changes this test
follows it. The package is installed from a wheel built from this checkout
(into a folder of its own, so the checkout itself is not what is imported),
the sandbox runs as the README says and its printed variables are exported,
and a person logs in by phone and by email through the pages and the API.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.quick_start


def quick_start_blocks() -> dict[str, str]:
    """The Quick start's Python blocks, by the file their first line names."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start in your project", 1)[1].split("\n## ", 1)[0]
    blocks: dict[str, str] = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        code = textwrap.dedent(block)
        first, _, rest = code.partition("\n")
        blocks[first.removeprefix("# ").strip()] = rest
    return blocks


def run(*command: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """Run one of the Quick start's own commands; fail the test if it fails."""
    return subprocess.run(  # noqa: S603 - our commands, no shell
        list(command), check=True, capture_output=True, text=True, **options
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[str], log: Path) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"{url} exited: {log.read_text()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("quick_start")
    # 1. Install: a wheel of this checkout, in a folder of its own.
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-w", str(work / "dist"), str(ROOT))  # fmt: skip
    wheel = next((work / "dist").glob("django_kodmobi-*.whl"))
    site_packages = work / "site-packages"
    run(sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
        "--target", str(site_packages), str(wheel))  # fmt: skip
    # A new project, with the README's blocks added where it says.
    run(str(BIN / "django-admin"), "startproject", "mysite", str(work))
    blocks = quick_start_blocks()
    for name in ("settings.py", "urls.py"):
        with (work / "mysite" / name).open("a") as file:
            file.write("\n" + blocks[name])
    # 4. The sandbox, as the README says; it prints what to export.
    env = {**os.environ, "PYTHONPATH": str(site_packages)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    sandbox = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "django_kodmobi.sandbox", "--port", "0", "--quiet"],
        cwd=work, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    printed: dict[str, str] = {}
    while len(printed) < 3:
        line = sandbox.stderr.readline()  # type: ignore[union-attr]
        assert line, "the sandbox said nothing"
        if match := re.match(r"\s+(KODMOBI_\w+)=(\S+)", line):
            printed[match[1]] = match[2]
    env.update(printed)
    port = free_port()
    server = None
    try:
        manage = [sys.executable, "manage.py"]
        checked = run(*manage, "check", cwd=work, env=env)
        assert "no issues" in checked.stdout, checked.stdout + checked.stderr
        run(*manage, "migrate", "--verbosity", "0", cwd=work, env=env)
        where = run(
            *manage, "shell", "-c", "import django_kodmobi; print(django_kodmobi.__file__)",
            cwd=work, env=env,
        )  # fmt: skip
        assert where.stdout.strip().endswith(
            str(site_packages / "django_kodmobi" / "__init__.py")
        ), "the wheel is in use"
        log = work / "runserver.log"
        with log.open("w") as output:
            server = subprocess.Popen(  # noqa: S603
                [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=work, env=env, stdout=output, stderr=output, text=True,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/accounts/login/", server, log)
        yield {"url": url, "sandbox": printed["KODMOBI_API_URL"]}
    finally:
        for process in (server, sandbox):
            if process is not None:
                process.terminate()
                process.wait(10)
        sandbox.stderr.close()  # type: ignore[union-attr]


def code_for(site: dict[str, Any], to: str) -> str:
    inbox = requests.get(
        site["sandbox"] + "/sandbox/inbox", params={"to": to}, timeout=5
    ).json()["messages"]
    return str(inbox[0]["code"])  # newest first


def who(browser: requests.Session, site: dict[str, Any]) -> Any:
    return browser.get(site["url"] + "/api/auth/session/", timeout=5).json()


@pytest.mark.parametrize("identifier", ["+79991234567", "anna@example.com"])
def test_log_in_through_the_pages(site: dict[str, Any], identifier: str) -> None:
    browser = requests.Session()
    login = site["url"] + "/accounts/login/"
    browser.get(login, timeout=5)
    csrf = browser.cookies["csrftoken"]
    sent = browser.post(
        login,
        {"identifier": identifier, "csrfmiddlewaretoken": csrf},
        headers={"Referer": login},
        timeout=10,
    )
    assert sent.url.endswith("/accounts/login/code/"), sent.text
    done = browser.post(
        sent.url,
        {"code": code_for(site, identifier), "csrfmiddlewaretoken": csrf},
        headers={"Referer": sent.url},
        allow_redirects=False,
        timeout=10,
    )
    assert (done.status_code, done.headers["Location"]) == (302, "/accounts/contacts/")
    landing = browser.get(site["url"] + done.headers["Location"], timeout=5)
    assert landing.status_code == 200
    assert "You are logged in." in landing.text  # as the README promises
    assert who(browser, site)["authenticated"] is True


@pytest.mark.parametrize("identifier", ["+79990000001", "boris@example.com"])
def test_log_in_through_the_api(site: dict[str, Any], identifier: str) -> None:
    app = requests.Session()
    api = site["url"] + "/api/auth/"
    assert app.get(api + "config/", timeout=5).json()["login_mode"] == "session"
    headers = {"X-CSRFToken": app.cookies["csrftoken"], "Referer": api}
    flow = app.post(
        api + "start/", json={"identifier": identifier}, headers=headers, timeout=10
    ).json()["flow"]
    reply = app.post(
        api + "verify/",
        json={"flow": flow, "code": code_for(site, identifier)},
        headers=headers,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert who(app, site)["user"]["username"] == reply.json()["user"]["username"]
