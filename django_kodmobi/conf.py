"""The ``KODMOBI`` settings dict, read lazily through a typed object.

Every key has its documented default in :data:`DEFAULTS`. Nothing is read at
import time, and nothing is cached, so ``override_settings(KODMOBI={...})``
just works. System checks (``checks.py``) validate the values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

__all__ = ["DEFAULTS", "settings"]

DEFAULTS: dict[str, Any] = {
    # -- the kod.mobi connection ------------------------------------------
    #: The public key (session endpoints).
    "PUBLIC_KEY": "",
    #: The secret key (server-side verify). Keep it in the environment.
    "SECRET_KEY": "",
    "API_URL": "https://api.kod.mobi",
    #: Path overrides by operation name, e.g. {"check": "/v2/check"}.
    "PATHS": {},
    #: (connect, read) seconds for each call.
    "TIMEOUT": (3.05, 10.0),
    #: Retries where no second message can result (see the client).
    "MAX_RETRIES": 2,
    "CHALLENGE_HEADER": "X-CF-TURNSTILE-TOKEN",
    #: Serve kod.mobi from the in-process sandbox (tests, demos). Never in
    #: production: a system check warns when DEBUG is off.
    "SANDBOX": False,
    # -- the login flow ----------------------------------------------------
    #: Identifier kinds people may log in with.
    "IDENTIFIERS": ("phone", "email"),
    #: Region for phone numbers typed without "+", e.g. "RU"; None: "+" needed.
    "DEFAULT_REGION": None,
    #: Wrong codes per session before it is locked.
    "MAX_ATTEMPTS": 5,
    #: Codes sent again (on any channel) per session.
    "MAX_RESENDS": 3,
    #: Seconds a channel waits before it may send again, when kod.mobi does
    #: not say.
    "RESEND_COOLDOWN": 60,
    #: The code length the kod.mobi project uses (for input checks).
    "CODE_LENGTH": 6,
    #: Limits per client IP and per identifier, counted in Django's cache
    #: ("count/period", period s, m, h, d or a multiple such as "10m"; an
    #: empty value turns one off). Use a shared cache (Redis) in production.
    "RATE_LIMITS": {
        "start_per_ip": "20/m",
        "start_per_identifier": "5/10m",
        "verify_per_ip": "30/m",
    },
    # -- users -------------------------------------------------------------
    #: The user model field holding an E.164 phone number; None disables
    #: phone lookup unless USER_RESOLVER is set.
    "USER_PHONE_FIELD": None,
    #: The user model field holding the email; None: the model's own.
    "USER_EMAIL_FIELD": None,
    #: Dotted path to callable(identifier) -> user or None, replacing lookup.
    "USER_RESOLVER": None,
    #: Create a user on first login: False, True, or a dotted path to
    #: callable(identifier) -> bool.
    "SIGNUP": False,
    #: Dotted path to callable(identifier) -> user, replacing the default.
    "USER_FACTORY": None,
    #: Refuse passwordless login to staff and superusers.
    "EXCLUDE_STAFF": True,
    # -- interfaces --------------------------------------------------------
    #: What the REST API's verify/complete return after a login: "session"
    #: (Django login), "token" (DRF authtoken), "jwt" (SimpleJWT pair), or a
    #: dotted path to callable(request, user) -> dict.
    "API_LOGIN": "session",
    #: Seconds the project's channel list is cached (it changes rarely).
    "CHANNELS_CACHE_SECONDS": 300,
    #: A link to the sandbox inbox on the login page (demos); "" hides it.
    "SANDBOX_INBOX_URL": "",
    # -- housekeeping ------------------------------------------------------
    #: Days to keep OTP sessions and their events (kodmobi_cleanup).
    "RETENTION_DAYS": 90,
    #: Proxies in front of Django whose X-Forwarded-For entries are trusted.
    "TRUSTED_PROXY_COUNT": 0,
}


class Settings:
    """Typed, read-on-access view of ``settings.KODMOBI`` over :data:`DEFAULTS`."""

    @property
    def user_settings(self) -> Mapping[str, Any]:
        value = getattr(django_settings, "KODMOBI", {})
        return value if isinstance(value, Mapping) else {}

    def get(self, name: str) -> Any:
        return self.user_settings.get(name, DEFAULTS[name])

    @property
    def PUBLIC_KEY(self) -> str:  # noqa: N802 (settings read like constants)
        return str(self.get("PUBLIC_KEY") or "")

    @property
    def SECRET_KEY(self) -> str:  # noqa: N802
        return str(self.get("SECRET_KEY") or "")

    @property
    def API_URL(self) -> str:  # noqa: N802
        return str(self.get("API_URL"))

    @property
    def PATHS(self) -> Mapping[str, str]:  # noqa: N802
        return dict(self.get("PATHS") or {})

    @property
    def TIMEOUT(self) -> tuple[float, float]:  # noqa: N802
        value = self.get("TIMEOUT")
        if isinstance(value, (int, float)):
            return (float(value), float(value))
        connect, read = value
        return (float(connect), float(read))

    @property
    def MAX_RETRIES(self) -> int:  # noqa: N802
        return int(self.get("MAX_RETRIES"))

    @property
    def CHALLENGE_HEADER(self) -> str:  # noqa: N802
        return str(self.get("CHALLENGE_HEADER"))

    @property
    def SANDBOX(self) -> bool:  # noqa: N802
        return bool(self.get("SANDBOX"))

    @property
    def IDENTIFIERS(self) -> tuple[str, ...]:  # noqa: N802
        return tuple(self.get("IDENTIFIERS"))

    @property
    def DEFAULT_REGION(self) -> str | None:  # noqa: N802
        value = self.get("DEFAULT_REGION")
        return str(value).upper() if value else None

    @property
    def MAX_ATTEMPTS(self) -> int:  # noqa: N802
        return int(self.get("MAX_ATTEMPTS"))

    @property
    def MAX_RESENDS(self) -> int:  # noqa: N802
        return int(self.get("MAX_RESENDS"))

    @property
    def RESEND_COOLDOWN(self) -> int:  # noqa: N802
        return int(self.get("RESEND_COOLDOWN"))

    @property
    def CODE_LENGTH(self) -> int:  # noqa: N802
        return int(self.get("CODE_LENGTH"))

    @property
    def RATE_LIMITS(self) -> Mapping[str, str]:  # noqa: N802
        value = self.get("RATE_LIMITS")
        # A project that sets a few keys keeps the defaults of the others.
        return {
            **DEFAULTS["RATE_LIMITS"],
            **(value if isinstance(value, Mapping) else {}),
        }

    @property
    def USER_PHONE_FIELD(self) -> str | None:  # noqa: N802
        return self.get("USER_PHONE_FIELD") or None

    @property
    def USER_EMAIL_FIELD(self) -> str | None:  # noqa: N802
        return self.get("USER_EMAIL_FIELD") or None

    @property
    def USER_RESOLVER(self) -> Callable[..., Any] | None:  # noqa: N802
        return _callable(self.get("USER_RESOLVER"))

    @property
    def SIGNUP(self) -> bool | Callable[..., Any]:  # noqa: N802
        value = self.get("SIGNUP")
        if isinstance(value, bool):
            return value
        return _callable(value) or False

    @property
    def USER_FACTORY(self) -> Callable[..., Any] | None:  # noqa: N802
        return _callable(self.get("USER_FACTORY"))

    @property
    def EXCLUDE_STAFF(self) -> bool:  # noqa: N802
        return bool(self.get("EXCLUDE_STAFF"))

    @property
    def API_LOGIN(self) -> str | Callable[..., Any]:  # noqa: N802
        value = self.get("API_LOGIN")
        if value in ("session", "token", "jwt"):
            return str(value)
        return _callable(value) or "session"

    @property
    def CHANNELS_CACHE_SECONDS(self) -> int:  # noqa: N802
        return int(self.get("CHANNELS_CACHE_SECONDS"))

    @property
    def SANDBOX_INBOX_URL(self) -> str:  # noqa: N802
        return str(self.get("SANDBOX_INBOX_URL") or "")

    @property
    def RETENTION_DAYS(self) -> int:  # noqa: N802
        return int(self.get("RETENTION_DAYS"))

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:  # noqa: N802
        return int(self.get("TRUSTED_PROXY_COUNT"))


def _callable(value: Any) -> Callable[..., Any] | None:
    if not value:
        return None
    if callable(value):
        return value  # type: ignore[no-any-return]
    return import_string(value)  # type: ignore[no-any-return]


settings = Settings()
