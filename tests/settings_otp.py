"""The suite's settings with django-otp and django-two-factor-auth on
kod.mobi (``tests/test_otp.py``, ``tests/browser/test_two_factor.py``; run
where they are installed, see tox.ini)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django_otp",
    "django_otp.plugins.otp_static",
    "django_otp.plugins.otp_totp",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "django_kodmobi.contrib.otp",
]
_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE = [
    *MIDDLEWARE[: _auth + 1],
    "django_otp.middleware.OTPMiddleware",
    *MIDDLEWARE[_auth + 1 :],
]
ROOT_URLCONF = "tests.urls_otp"
LOGIN_URL = "two_factor:login"
LOGIN_REDIRECT_URL = "/otp/protected/"
TWO_FACTOR_SMS_GATEWAY = "django_kodmobi.contrib.two_factor.KodmobiGateway"
