"""Minimal settings for the test suite.

SQLite in memory and the local-memory cache by default; ``DATABASE_URL`` and
``CACHE_URL`` (read with django-environ) switch to PostgreSQL and Redis.
"""

from __future__ import annotations

from typing import Any

import environ

from django_kodmobi.conf import DEFAULTS

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_kodmobi",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Russian")]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_kodmobi.backends.KodMobiBackend",
]

RATE_LIMIT_NAMES = tuple(DEFAULTS["RATE_LIMITS"])
KODMOBI: dict[str, Any] = {
    # kod.mobi answers from the in-process sandbox: no socket, no network.
    "SANDBOX": {
        "echo": False,
        # Phones are connected on every messenger in the suite; the sandbox's
        # default (Telegram not yet opened) has tests of its own.
        "phone_channels": frozenset({"telegram", "whatsapp", "sms"}),
    },
    # The suite's numbers come from many regions; the default (no SMS
    # anywhere) has tests of its own (tests/test_defaults.py).
    "SMS_COUNTRIES": "*",
    # auth.User has no phone field: see tests/users.py.
    "USER_RESOLVER": "tests.users.resolve",
    # The suite's phones belong to nobody, and its tests follow their codes
    # to the refusal; silent unknowns (the default) have tests of their own.
    "UNKNOWN_IDENTIFIERS": "code",
    "PUBLIC_KEY": "test-public-key",
    "SECRET_KEY": "test-secret-key",
    # Counted per test where they are the subject (tests/test_limits.py);
    # elsewhere hundreds of logins from 127.0.0.1 would trip them.
    "RATE_LIMITS": dict.fromkeys(RATE_LIMIT_NAMES, ""),
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The suite runs the sandbox with DEBUG off on purpose.
SILENCED_SYSTEM_CHECKS = ["kodmobi.W001", "kodmobi.W004"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SIMPLE_JWT = {"SIGNING_KEY": "tests-only-signing-key-of-at-least-32-bytes"}
SPECTACULAR_SETTINGS = {"OAS_VERSION": "3.1.0", "TITLE": "django-kodmobi test API"}
LOGIN_URL = "kodmobi:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
