"""The ``KODMOBI`` settings dict, read lazily through a typed object.

Every key has its documented default in :data:`DEFAULTS`. Nothing is read at
import time. The dict is looked up once and kept until Django says
``KODMOBI`` changed (``setting_changed``, which ``override_settings`` and
pytest-django's ``settings`` send), so ``override_settings(KODMOBI={...})``
just works, and a login's fifty reads cost no attribute lookups on Django's
lazy settings. System checks (``checks.py``) validate the values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
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
    #: Seconds one kod.mobi call may take in all, retries included.
    "DEADLINE": 10.0,
    #: Failed kod.mobi calls in a row (timeouts, 5xx, malformed replies)
    #: after which the app stops calling it for BREAKER_COOLDOWN seconds,
    #: then lets one call through as a probe. One probe a second is nothing
    #: to kod.mobi, and logins work again within a second of its return.
    "BREAKER_FAILURES": 5,
    "BREAKER_COOLDOWN": 1,
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
    #: Codes checked per kod.mobi session (shared by every flow on it)
    #: before it is locked.
    "MAX_ATTEMPTS": 5,
    #: Wrong codes in a row for one phone or email from clients it does not
    #: trust, after which those clients cannot log in by code with it for
    #: FAILURE_LOCK_SECONDS (NIST 800-63B caps this at 100). Its trusted
    #: devices keep their own budgets. A right code starts the count again.
    "MAX_FAILURES": 100,
    #: Seconds the MAX_FAILURES lock lasts; it ends by itself.
    "FAILURE_LOCK_SECONDS": 24 * 3600,
    #: Pauses after that many wrong codes in a row for one phone or email
    #: from one address, or from one trusted device: (failures, seconds).
    #: Counted per client so nobody can pause someone else's logins.
    "FAILURE_COOLDOWNS": ((10, 15 * 60), (20, 2 * 3600), (40, 24 * 3600)),
    #: Days a device that logged in as a phone or email stays trusted for
    #: it (OWASP device cookies): its own budgets instead of the shared ones.
    "DEVICE_TRUST_DAYS": 180,
    #: IPv6 clients are counted by their network of this prefix length: one
    #: host usually holds a whole /64.
    "IPV6_PREFIX": 64,
    #: The longest a flow lives, whatever kod.mobi says (kod.mobi: 180 s).
    "SESSION_TTL": 180,
    #: Codes sent again (on any channel) per session.
    "MAX_RESENDS": 3,
    #: Seconds a channel waits before it may send again, when kod.mobi does
    #: not say.
    "RESEND_COOLDOWN": 60,
    #: The code length the kod.mobi project uses (for input checks).
    "CODE_LENGTH": 6,
    #: Limits counted in Django's cache as sliding windows: rates like
    #: "20/m,60/h" (periods s, m, h, d or a multiple such as "10m"), all of
    #: which must hold; an empty value turns one off. Use Redis in
    #: production, so every worker counts together.
    "RATE_LIMITS": {
        # Starts from one IP, whatever the identifier.
        "start_per_ip": "20/m,60/h,200/d",
        # Starts for one identifier from one IP.
        "start_per_identifier": "5/10m,20/d",
        # Codes sent to one identifier from clients it does not trust
        # (message bombing).
        "sends_per_identifier": "10/h,30/d",
        # Codes sent to one identifier from one device it trusts, or for
        # one signed-in user (step-up, contacts, second factor).
        "sends_per_device": "10/h,30/d",
        # Codes sent by the whole site (SMS pumping); the key is global.
        "sends_global": "1000/h",
        # Code checks from one IP.
        "verify_per_ip": "30/m",
        # Browser-SDK completions from one IP (BROWSER_SDK only).
        "complete_per_ip": "10/m",
        # Passkey ceremonies (options and answers) from one IP (PASSKEYS).
        "passkey_per_ip": "30/m",
    },
    #: libphonenumber number types that never get a code: none of them is a
    #: person's own mobile.
    "BLOCKED_NUMBER_TYPES": (
        "PREMIUM_RATE",
        "SHARED_COST",
        "TOLL_FREE",
        "PAGER",
        "VOICEMAIL",
        "PERSONAL_NUMBER",
        "UAN",
        "VOIP",
    ),
    #: Regions (ISO 3166 codes such as "RU") whose phones may get SMS and
    #: WhatsApp codes. Phones elsewhere get messenger codes only (Telegram).
    #: Empty by default: no SMS goes anywhere until you name where; "*" (or
    #: None) allows every region.
    "SMS_COUNTRIES": (),
    #: Accept verify tokens the kod.mobi browser SDK got by checking a code
    #: at kod.mobi directly (api/auth/complete/). Off by default: in that
    #: mode kod.mobi alone limits guesses at a code.
    "BROWSER_SDK": False,
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
    #: A login for a phone or email with no account, where signup would not
    #: make one: "silent" sends nothing and never asks kod.mobi (the reply
    #: looks the same; every code is refused as wrong); "code" sends the
    #: code and refuses the login once it is typed.
    "UNKNOWN_IDENTIFIERS": "silent",
    #: Refuse passwordless login to staff and superusers.
    "EXCLUDE_STAFF": True,
    # -- interfaces --------------------------------------------------------
    #: What the REST API's verify/complete return after a login: "session"
    #: (Django login), "token" (DRF authtoken), "jwt" (SimpleJWT pair), or a
    #: dotted path to callable(request, user) -> dict.
    "API_LOGIN": "session",
    #: Seconds the project's channel list is cached (it changes rarely).
    "CHANNELS_CACHE_SECONDS": 300,
    #: Seconds a failure to get that list is remembered, so a login page
    #: does not wait for kod.mobi on every render while it is down.
    "CHANNELS_FAILURE_CACHE_SECONDS": 15,
    #: Seconds a flow's channel list, as kod.mobi last gave it, serves the
    #: pages that follow (the code page right after the start, a page shown
    #: again after a wrong code) before kod.mobi is asked again.
    "SESSION_CHANNELS_CACHE_SECONDS": 20,
    #: A link to the sandbox inbox on the login page (demos); "" hides it.
    "SANDBOX_INBOX_URL": "",
    #: Seconds a confirmed code (a login by code, a step-up) lets a person
    #: through views behind kodmobi_step_up_required.
    "STEP_UP_MAX_AGE": 300,
    #: Days a browser its owner chose to trust after a code skips step-up
    #: and the second factor (allauth's MFA_TRUST_COOKIE_AGE is 14 days);
    #: 0 offers no trust.
    "TRUST_BROWSER_DAYS": 14,
    # -- passkeys (the [passkeys] extra) -----------------------------------
    #: Offer a passkey after a login by code or a step-up, and log in by it
    #: with no message sent. The code stays the way back.
    "PASSKEYS": False,
    #: The WebAuthn relying party: the site's registrable domain
    #: ("example.com"), and the exact origins its pages are served from
    #: ("https://example.com"). Both are checked (kodmobi.E015).
    "PASSKEY_RP_ID": "",
    "PASSKEY_RP_NAME": "",
    "PASSKEY_ORIGINS": (),
    #: "required" (the authenticator checks a PIN or a biometric every time)
    #: or "preferred" (presence is enough where it cannot).
    "PASSKEY_USER_VERIFICATION": "required",
    #: Seconds a passkey ceremony's challenge is good for (once).
    "PASSKEY_CHALLENGE_SECONDS": 300,
    #: The site's public address ("https://example.com"), for the delivery
    #: callbacks of the manual flow; "" asks for no callbacks.
    "CALLBACK_BASE_URL": "",
    #: django_kodmobi.contrib.otp: after n wrong codes in a row a device
    #: waits OTP_THROTTLE_FACTOR * 2**(n-1) seconds before the next check.
    "OTP_THROTTLE_FACTOR": 1,
    #: Phones or emails whose code is fixed and never sent, for app-store
    #: review: {"+79990000000": "246810"}. kod.mobi is never called for them.
    "TEST_NUMBERS": {},
    #: Test numbers are refused (kodmobi.E014) while DEBUG is off, unless this
    #: says they are meant to be there.
    "TEST_NUMBERS_IN_PRODUCTION": False,
    # -- housekeeping ------------------------------------------------------
    #: Days to keep OTP sessions and their events (kodmobi_cleanup).
    "RETENTION_DAYS": 90,
    #: Proxies in front of Django whose X-Forwarded-For entries are trusted.
    "TRUSTED_PROXY_COUNT": 0,
}


class Settings:
    """Typed, read-on-access view of ``settings.KODMOBI`` over :data:`DEFAULTS`."""

    _user_settings: Mapping[str, Any] | None = None

    @property
    def user_settings(self) -> Mapping[str, Any]:
        value = self._user_settings
        if value is None:
            value = getattr(django_settings, "KODMOBI", {})
            value = value if isinstance(value, Mapping) else {}
            self._user_settings = value
        return value

    def forget(self) -> None:
        """Look ``settings.KODMOBI`` up again on the next read."""
        self._user_settings = None

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
    def DEADLINE(self) -> float:  # noqa: N802
        return float(self.get("DEADLINE"))

    @property
    def BREAKER_FAILURES(self) -> int:  # noqa: N802
        return int(self.get("BREAKER_FAILURES"))

    @property
    def BREAKER_COOLDOWN(self) -> int:  # noqa: N802
        return int(self.get("BREAKER_COOLDOWN"))

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
    def MAX_FAILURES(self) -> int:  # noqa: N802
        return int(self.get("MAX_FAILURES"))

    @property
    def FAILURE_LOCK_SECONDS(self) -> int:  # noqa: N802
        return int(self.get("FAILURE_LOCK_SECONDS"))

    @property
    def DEVICE_TRUST_DAYS(self) -> int:  # noqa: N802
        return int(self.get("DEVICE_TRUST_DAYS"))

    @property
    def IPV6_PREFIX(self) -> int:  # noqa: N802
        return int(self.get("IPV6_PREFIX"))

    @property
    def FAILURE_COOLDOWNS(self) -> tuple[tuple[int, int], ...]:  # noqa: N802
        tiers = (
            (int(count), int(seconds))
            for count, seconds in self.get("FAILURE_COOLDOWNS")
        )
        return tuple(sorted(tiers))

    @property
    def SESSION_TTL(self) -> int:  # noqa: N802
        return int(self.get("SESSION_TTL"))

    @property
    def BLOCKED_NUMBER_TYPES(self) -> tuple[str, ...]:  # noqa: N802
        return tuple(
            str(name).upper() for name in self.get("BLOCKED_NUMBER_TYPES") or ()
        )

    @property
    def SMS_COUNTRIES(self) -> frozenset[str] | None:  # noqa: N802
        """The regions SMS may go to; ``None`` for every region ("*")."""
        value = self.get("SMS_COUNTRIES")
        if value is None or value == "*":
            return None
        return frozenset(str(v).upper() for v in value)

    @property
    def BROWSER_SDK(self) -> bool:  # noqa: N802
        return bool(self.get("BROWSER_SDK"))

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
    def CHANNELS_FAILURE_CACHE_SECONDS(self) -> int:  # noqa: N802
        return int(self.get("CHANNELS_FAILURE_CACHE_SECONDS"))

    @property
    def SESSION_CHANNELS_CACHE_SECONDS(self) -> int:  # noqa: N802
        return int(self.get("SESSION_CHANNELS_CACHE_SECONDS"))

    @property
    def UNKNOWN_IDENTIFIERS(self) -> str:  # noqa: N802
        return str(self.get("UNKNOWN_IDENTIFIERS"))

    @property
    def TEST_NUMBERS(self) -> Mapping[str, str]:  # noqa: N802
        value = self.get("TEST_NUMBERS")
        return value if isinstance(value, Mapping) else {}

    @property
    def SANDBOX_INBOX_URL(self) -> str:  # noqa: N802
        return str(self.get("SANDBOX_INBOX_URL") or "")

    @property
    def STEP_UP_MAX_AGE(self) -> int:  # noqa: N802
        return int(self.get("STEP_UP_MAX_AGE"))

    @property
    def TRUST_BROWSER_DAYS(self) -> int:  # noqa: N802
        return int(self.get("TRUST_BROWSER_DAYS"))

    @property
    def PASSKEYS(self) -> bool:  # noqa: N802
        return bool(self.get("PASSKEYS"))

    @property
    def PASSKEY_RP_ID(self) -> str:  # noqa: N802
        return str(self.get("PASSKEY_RP_ID") or "")

    @property
    def PASSKEY_RP_NAME(self) -> str:  # noqa: N802
        return str(self.get("PASSKEY_RP_NAME") or self.PASSKEY_RP_ID)

    @property
    def PASSKEY_ORIGINS(self) -> tuple[str, ...]:  # noqa: N802
        value = self.get("PASSKEY_ORIGINS") or ()
        return (value,) if isinstance(value, str) else tuple(value)

    @property
    def PASSKEY_USER_VERIFICATION(self) -> str:  # noqa: N802
        return str(self.get("PASSKEY_USER_VERIFICATION"))

    @property
    def PASSKEY_CHALLENGE_SECONDS(self) -> int:  # noqa: N802
        return int(self.get("PASSKEY_CHALLENGE_SECONDS"))

    @property
    def CALLBACK_BASE_URL(self) -> str:  # noqa: N802
        return str(self.get("CALLBACK_BASE_URL") or "").rstrip("/")

    @property
    def OTP_THROTTLE_FACTOR(self) -> int:  # noqa: N802
        return int(self.get("OTP_THROTTLE_FACTOR"))

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


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "KODMOBI":
        settings.forget()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_kodmobi.conf")
