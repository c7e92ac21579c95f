"""The suite's settings with a custom user model identified by phone."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import KODMOBI

AUTH_USER_MODEL = "tests.PhoneUser"
# This user model stores phones: the default lookup serves both kinds.
KODMOBI = {
    **KODMOBI,
    "USER_RESOLVER": None,
    "USER_PHONE_FIELD": "phone",
    "DEFAULT_REGION": "RU",
}
