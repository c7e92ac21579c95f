"""``make demo``: start the kod.mobi sandbox and the example site.

Migrates the SQLite database, starts the sandbox on loopback (unless
``KODMOBI_API_URL`` points elsewhere), and runs the development server.
Codes appear in this console and in the sandbox inbox page.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    sandbox = None
    if not os.environ.get("KODMOBI_API_URL"):
        from django_kodmobi.sandbox import SandboxConfig, SandboxEngine, SandboxServer
        from django_kodmobi.sandbox.config import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY

        config = SandboxConfig(
            public_key=os.environ.get("KODMOBI_PUBLIC_KEY") or DEFAULT_PUBLIC_KEY,
            secret_key=os.environ.get("KODMOBI_SECRET_KEY") or DEFAULT_SECRET_KEY,
            site_url=f"http://{options.host}:{options.port}/",
        )
        sandbox = SandboxServer(
            SandboxEngine(config), host="127.0.0.1", port=options.sandbox_port
        ).start()
        os.environ["KODMOBI_API_URL"] = sandbox.url

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    site = f"http://{options.host}:{options.port}/"
    print(f"\n  Example site:   {site}", flush=True)
    print(f"  Log in at:      {site}login/", flush=True)
    print(
        f"  Admin:          {site}admin/  (first: python manage.py createsuperuser)",
        flush=True,
    )
    if sandbox is not None:
        print(
            f"  Sandbox inbox:  {sandbox.url}/sandbox/  (codes also print here)\n",
            flush=True,
        )
    try:
        call_command("runserver", f"{options.host}:{options.port}", use_reloader=False)
    finally:
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":
    main()
