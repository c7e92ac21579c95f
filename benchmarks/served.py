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

if "BENCH_SMTP_PORT" in os.environ:  # allauth mails its codes there
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "127.0.0.1"
    EMAIL_PORT = int(os.environ["BENCH_SMTP_PORT"])
# Connections kept between requests, as a production site keeps them.
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
