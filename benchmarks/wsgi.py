"""The benchmarks' site as a WSGI application, for ``bench_gunicorn``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.served")
application = get_wsgi_application()

# The floor's views call kod.mobi through a client of their own, on a port
# of their own, so that the app's connections are counted apart.
from benchmarks import floor  # noqa: E402

floor.floor = floor.Floor(
    os.environ["BENCH_FLOOR_KODMOBI_URL"],
    os.environ["BENCH_KODMOBI_PUBLIC_KEY"],
    os.environ["BENCH_KODMOBI_SECRET_KEY"],
)
