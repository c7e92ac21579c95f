"""Settings for the site ``bench_gunicorn`` serves: the benchmarks' own, a
database, cache and sandbox named by the environment the benchmark sets."""

from __future__ import annotations

import os

from benchmarks.settings import *  # noqa: F403
from django_kodmobi.conf import DEFAULTS

DEBUG = False
KODMOBI = {
    "API_URL": os.environ["BENCH_KODMOBI_URL"],
    "PUBLIC_KEY": os.environ["BENCH_KODMOBI_PUBLIC_KEY"],
    "SECRET_KEY": os.environ["BENCH_KODMOBI_SECRET_KEY"],
    "MAX_RETRIES": 0,
    "RATE_LIMITS": dict.fromkeys(DEFAULTS["RATE_LIMITS"], "1000000/h"),
}
