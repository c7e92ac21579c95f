"""The benchmarks' settings: the suite's, plus django-allauth's login by code
(headless API) when allauth is installed (``pip install -e '.[bench]'``)."""

from __future__ import annotations

import os
from importlib.util import find_spec

from tests.settings import *  # noqa: F403
from tests.settings import AUTHENTICATION_BACKENDS, INSTALLED_APPS, MIDDLEWARE

ROOT_URLCONF = "benchmarks.urls"

if "BENCH_SQLITE_FILE" in os.environ:  # served SQLite: one file for all workers
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_SQLITE_FILE"],
            "TEST": {"NAME": os.environ["BENCH_SQLITE_FILE"]},
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
ALLAUTH = find_spec("allauth") is not None

if ALLAUTH:
    INSTALLED_APPS = [*INSTALLED_APPS, "allauth", "allauth.account", "allauth.headless"]
    MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
    AUTHENTICATION_BACKENDS = [
        *AUTHENTICATION_BACKENDS,
        "allauth.account.auth_backends.AuthenticationBackend",
    ]
    ACCOUNT_ADAPTER = "benchmarks.allauth_adapter.CodeKeepingAdapter"
    ACCOUNT_LOGIN_METHODS = {"email"}
    ACCOUNT_SIGNUP_FIELDS = ["email*"]
    ACCOUNT_EMAIL_VERIFICATION = "optional"
    ACCOUNT_LOGIN_BY_CODE_ENABLED = True
    # On, as django-kodmobi's are, and high enough for thousands of logins
    # from one address.
    ACCOUNT_RATE_LIMITS = {
        "login": "1000000/h/ip",
        "login_failed": "1000000/h/ip,1000000/h/key",
        "request_login_code": "1000000/h/ip,1000000/h/key",
    }
    HEADLESS_CLIENTS = ("browser",)
