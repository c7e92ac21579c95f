"""Settings for the example site, all from the environment (django-environ).

With nothing set, the site runs on SQLite, the local-memory cache and the
kod.mobi sandbox that ``make demo`` starts on 127.0.0.1:8765. For the real
service, set ``KODMOBI_API_URL=https://api.kod.mobi`` and the two keys (in the
environment or in ``example_project/.env``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ

from django_kodmobi.sandbox import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="example-only-not-secret-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_kodmobi",
    "example_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_USER_MODEL = "example_project.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_kodmobi.backends.KodMobiBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "django-kodmobi example API", "OAS_VERSION": "3.1.0"}

#: django-two-factor-auth on kod.mobi: a password, then a code delivered by
#: kod.mobi to the person's messenger (pip install "django-kodmobi[otp]").
#: Off by default; KODMOBI_EXAMPLE_TWO_FACTOR=true turns it on.
TWO_FACTOR = env.bool("KODMOBI_EXAMPLE_TWO_FACTOR", default=False)
if TWO_FACTOR:
    INSTALLED_APPS += [
        "django_otp",
        "django_otp.plugins.otp_static",
        "django_otp.plugins.otp_totp",
        "two_factor",
        "two_factor.plugins.phonenumber",
    ]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "django_otp.middleware.OTPMiddleware",
    )
    TWO_FACTOR_SMS_GATEWAY = "django_kodmobi.contrib.two_factor.KodmobiGateway"

KODMOBI_API_URL = env("KODMOBI_API_URL", default="http://127.0.0.1:8765")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


KODMOBI = {
    "API_URL": KODMOBI_API_URL,
    "PUBLIC_KEY": env("KODMOBI_PUBLIC_KEY", default=DEFAULT_PUBLIC_KEY),
    "SECRET_KEY": env("KODMOBI_SECRET_KEY", default=DEFAULT_SECRET_KEY),
    "DEFAULT_REGION": env("KODMOBI_DEFAULT_REGION", default="RU"),
    # Where SMS and WhatsApp codes may go ("RU,KZ"); the app sends SMS
    # nowhere until this is set. The demo names the region it defaults to.
    "SMS_COUNTRIES": env.list("KODMOBI_SMS_COUNTRIES", default=["RU"]),
    # Behind a proxy you run (nginx, a load balancer): how many.
    "TRUSTED_PROXY_COUNT": env.int("KODMOBI_TRUSTED_PROXY_COUNT", default=0),
    # The site's budget of codes an hour (SMS pumping): what you can pay for.
    "RATE_LIMITS": {
        "sends_global": env("KODMOBI_SITE_SENDS_PER_HOUR", default="1000") + "/h"
    },
    "USER_PHONE_FIELD": "phone",
    # A demo lets anyone in; a real site decides who may sign up.
    "SIGNUP": env.bool("KODMOBI_SIGNUP", default=True),
    "SANDBOX_INBOX_URL": f"{KODMOBI_API_URL}/sandbox/"
    if _is_loopback(KODMOBI_API_URL)
    else "",
}
