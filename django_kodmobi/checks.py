"""System checks for the ``KODMOBI`` setting. IDs are stable; never reuse one.

kodmobi.E001  PUBLIC_KEY missing
kodmobi.E002  SECRET_KEY missing
kodmobi.E003  a value has the wrong type or range
kodmobi.E004  a dotted path does not import
kodmobi.E005  KodMobiBackend missing from AUTHENTICATION_BACKENDS
kodmobi.E006  PATHS names an unknown operation or a bad path
kodmobi.E007  DEFAULT_REGION is not a region libphonenumber knows
kodmobi.W001  the sandbox is in use with DEBUG = False
kodmobi.W002  unknown keys in KODMOBI (a typo guard)
kodmobi.W003  a code shorter than 6 characters with DEBUG = False
kodmobi.W004  rate limits on a cache that does not share counts between processes
kodmobi.W005  rate limits on a shared cache where they are exact per process only
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from django.apps import AppConfig
from django.conf import settings as django_settings
from django.core.cache import InvalidCacheBackendError, caches
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .check_ids import check_id
from .client.endpoints import build_endpoints
from .conf import DEFAULTS, settings
from .limits import counts_exactly, parse_rates
from .passkey_checks import passkey_checks
from .sandbox import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY

BACKEND = "django_kodmobi.backends.KodMobiBackend"
_POSITIVE_INTS = (
    "MAX_ATTEMPTS",
    "MAX_RESENDS",
    "RESEND_COOLDOWN",
    "RETENTION_DAYS",
    "STEP_UP_MAX_AGE",
    "OTP_THROTTLE_FACTOR",
    "MAX_FAILURES",
    "SESSION_TTL",
    "BREAKER_FAILURES",
    "BREAKER_COOLDOWN",
    "CHANNELS_CACHE_SECONDS",
    "CHANNELS_FAILURE_CACHE_SECONDS",
    "SESSION_CHANNELS_CACHE_SECONDS",
    "PASSKEY_CHALLENGE_SECONDS",
)


@register(Tags.security)
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    raw = getattr(django_settings, "KODMOBI", {})
    if not isinstance(raw, dict):
        return [Error("KODMOBI must be a dict.", id=check_id("kodmobi.E003"))]
    messages: list[CheckMessage] = []
    messages += _keys()
    messages += _values(raw)
    messages += _dotted_paths()
    messages += _backend()
    messages += _paths()
    messages += _region()
    messages += _production()
    messages += _rate_limits(raw)
    messages += passkey_checks(raw)
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        messages.append(
            Warning(
                f"Unknown KODMOBI keys: {', '.join(unknown)}.",
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
                id=check_id("kodmobi.W002"),
            )
        )
    return messages


def _keys() -> list[CheckMessage]:
    if settings.SANDBOX:
        return []
    messages: list[CheckMessage] = []
    if not settings.PUBLIC_KEY:
        messages.append(
            Error(
                "KODMOBI['PUBLIC_KEY'] is not set.",
                hint="Copy the public key from https://user.kod.mobi/settings/api-key "
                "into the KODMOBI_PUBLIC_KEY environment variable.",
                id=check_id("kodmobi.E001"),
            )
        )
    if not settings.SECRET_KEY:
        messages.append(
            Error(
                "KODMOBI['SECRET_KEY'] is not set; codes cannot be verified server side.",
                hint="Put the secret key in the KODMOBI_SECRET_KEY environment variable.",
                id=check_id("kodmobi.E002"),
            )
        )
    return messages


def _values(raw: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []

    def bad(name: str, expected: str) -> None:
        messages.append(
            Error(
                f"KODMOBI['{name}'] must be {expected}, not {raw[name]!r}.",
                id=check_id("kodmobi.E003"),
            )
        )

    may_be_zero = ("MAX_RETRIES", "TRUSTED_PROXY_COUNT", "TRUST_BROWSER_DAYS")
    for name in _POSITIVE_INTS + may_be_zero + ("CODE_LENGTH",):
        if name in raw:
            value = raw[name]
            minimum = 0 if name in may_be_zero else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                bad(name, f"an integer >= {minimum}")
    if (
        "CODE_LENGTH" in raw
        and isinstance(raw["CODE_LENGTH"], int)
        and not 4 <= raw["CODE_LENGTH"] <= 8
    ):
        bad("CODE_LENGTH", "between 4 and 8")
    if raw.get("UNKNOWN_IDENTIFIERS", "silent") not in ("silent", "code"):
        bad("UNKNOWN_IDENTIFIERS", '"silent" or "code"')
    if "TEST_NUMBERS" in raw and not _valid_test_numbers(raw["TEST_NUMBERS"]):
        bad(
            "TEST_NUMBERS",
            "a dict of phones or emails to codes of CODE_LENGTH digits",
        )
    if "TIMEOUT" in raw and not _valid_timeout(raw["TIMEOUT"]):
        bad("TIMEOUT", "a positive number or a (connect, read) pair")
    if "IDENTIFIERS" in raw:
        value = raw["IDENTIFIERS"]
        if isinstance(value, str) or not value or not set(value) <= {"phone", "email"}:
            bad("IDENTIFIERS", "a non-empty list of 'phone' and 'email'")
    if "API_URL" in raw and not str(raw["API_URL"]).startswith(("https://", "http://")):
        bad("API_URL", "an http(s) URL")
    callback = raw.get("CALLBACK_BASE_URL", "")
    if callback and not str(callback).startswith(("https://", "http://")):
        bad("CALLBACK_BASE_URL", "an http(s) URL or empty")
    if "SANDBOX" in raw and not isinstance(raw["SANDBOX"], (bool, dict)):
        bad("SANDBOX", "a bool or a dict of sandbox options")
    if "DEADLINE" in raw and not _positive_number(raw["DEADLINE"]):
        bad("DEADLINE", "a positive number of seconds")
    if (
        "SESSION_TTL" in raw
        and isinstance(raw["SESSION_TTL"], int)
        and raw["SESSION_TTL"] > 600
    ):
        bad("SESSION_TTL", "at most 600 seconds (NIST 800-63B)")
    if "FAILURE_COOLDOWNS" in raw and not _valid_tiers(raw["FAILURE_COOLDOWNS"]):
        bad(
            "FAILURE_COOLDOWNS",
            "a list of (failures, seconds) pairs of positive integers",
        )
    if "BLOCKED_NUMBER_TYPES" in raw and not _valid_number_types(
        raw["BLOCKED_NUMBER_TYPES"]
    ):
        bad("BLOCKED_NUMBER_TYPES", "a list of phonenumbers.PhoneNumberType names")
    if "SMS_COUNTRIES" in raw and not _valid_regions(raw["SMS_COUNTRIES"]):
        bad("SMS_COUNTRIES", '"*" or a list of regions libphonenumber knows')
    return messages


def _valid_test_numbers(value: Any) -> bool:
    from .exceptions import VerificationError
    from .users import normalize_identifier  # it needs the app registry

    if not isinstance(value, dict):
        return False
    for identifier, code in value.items():
        if not (
            isinstance(code, str)
            and code.isdigit()
            and len(code) == settings.CODE_LENGTH
        ):
            return False
        try:
            normalize_identifier(str(identifier))
        except VerificationError:
            return False
    return True


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _valid_tiers(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return False
    try:
        return all(
            isinstance(count, int)
            and isinstance(seconds, int)
            and min(count, seconds) > 0
            for count, seconds in value
        )
    except (TypeError, ValueError):
        return False


def _valid_number_types(value: Any) -> bool:
    if isinstance(value, str):
        return False
    try:
        return all(
            hasattr(phonenumbers.PhoneNumberType, str(name).upper()) for name in value
        )
    except TypeError:
        return False


def _valid_regions(value: Any) -> bool:
    if value is None or value == "*":
        return True
    if isinstance(value, str):
        return False
    try:
        regions = phonenumbers.SUPPORTED_REGIONS
        return all(str(region).upper() in regions for region in value)
    except TypeError:
        return False


def _rate_limits(raw: dict[str, Any]) -> list[CheckMessage]:
    value = raw.get("RATE_LIMITS", {})
    if not isinstance(value, dict):
        return [
            Error("KODMOBI['RATE_LIMITS'] must be a dict.", id=check_id("kodmobi.E003"))
        ]
    messages: list[CheckMessage] = []
    known = set(DEFAULTS["RATE_LIMITS"])
    for name, text in value.items():
        if name not in known:
            messages.append(
                Error(
                    f"KODMOBI['RATE_LIMITS'] has an unknown limit {name!r}.",
                    hint=f"Known limits: {', '.join(sorted(known))}.",
                    id=check_id("kodmobi.E003"),
                )
            )
        elif text:
            try:
                if not parse_rates(text):
                    raise ValueError(f"no rate in {text!r}")
            except (ValueError, TypeError, AttributeError) as exc:
                messages.append(
                    Error(
                        f"KODMOBI['RATE_LIMITS'][{name!r}]: {exc}",
                        id=check_id("kodmobi.E003"),
                    )
                )
    if messages or django_settings.DEBUG or not any(settings.RATE_LIMITS.values()):
        return messages
    backend = django_settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith(("DummyCache", "LocMemCache")):
        messages.append(
            Warning(
                f"Rate limits count in {backend.rsplit('.', 1)[-1]}, which each "
                "process keeps for itself (or not at all): with several workers "
                "every limit is multiplied.",
                hint="Use a shared cache such as Redis for CACHES['default'].",
                id=check_id("kodmobi.W004"),
            )
        )
    elif not _counts_exactly():
        messages.append(
            Warning(
                f"Rate limits on {backend.rsplit('.', 1)[-1]} are exact within one "
                "process only: workers checking one limit at the same moment can "
                "each be let through.",
                hint="Use Redis for CACHES['default'] (Django's RedisCache or "
                "django-redis, not sharded): one script counts every worker.",
                id=check_id("kodmobi.W005"),
            )
        )
    return messages


def _counts_exactly() -> bool:
    """Whether the default cache keeps rate limits exact across processes.
    A cache Django cannot build is reported where it is used, not here."""
    try:
        return counts_exactly(caches["default"])
    except (InvalidCacheBackendError, ImportError):
        return True


def _valid_timeout(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value > 0
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
            for v in value
        )
    )


def _dotted_paths() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name in ("USER_RESOLVER", "USER_FACTORY", "SIGNUP", "API_LOGIN"):
        value = settings.get(name)
        if isinstance(value, str) and value not in ("", "session", "token", "jwt"):
            try:
                import_string(value)
            except ImportError as exc:
                messages.append(
                    Error(
                        f"KODMOBI['{name}'] = {value!r} cannot be imported: {exc}",
                        id=check_id("kodmobi.E004"),
                    )
                )
    return messages


def serves_login_by_code() -> bool:
    """Whether people can log in by code here: the URLconf includes this
    app's pages (``django_kodmobi.urls``) or its API. A site that has kod.mobi
    only deliver codes (for django-allauth, django-two-factor-auth) does
    not, and the checks of a login by code (kodmobi.E005, E009) skip it.
    A URLconf that does not load counts as serving: Django reports it."""
    for name in ("kodmobi:login", "kodmobi_api:start"):
        try:
            reverse(name)
        except NoReverseMatch:
            continue
        except Exception:  # noqa: BLE001 - a broken URLconf is Django's to report
            return True
        return True
    return False


def _backend() -> list[CheckMessage]:
    if BACKEND in django_settings.AUTHENTICATION_BACKENDS:
        return []
    if not serves_login_by_code():
        return []
    return [
        Error(
            "KodMobiBackend is not in AUTHENTICATION_BACKENDS; nobody can log in "
            "with a code.",
            hint=f"Add '{BACKEND}' to AUTHENTICATION_BACKENDS.",
            id=check_id("kodmobi.E005"),
        )
    ]


def _paths() -> list[CheckMessage]:
    try:
        build_endpoints(settings.get("PATHS") or {})
    except (ValueError, AttributeError) as exc:
        return [
            Error(f"KODMOBI['PATHS'] is invalid: {exc}", id=check_id("kodmobi.E006"))
        ]
    return []


def _region() -> list[CheckMessage]:
    region = settings.DEFAULT_REGION
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        return [
            Error(
                f"KODMOBI['DEFAULT_REGION'] = {region!r} is not a known region.",
                hint="Use an ISO 3166-1 alpha-2 code such as 'RU', or None.",
                id=check_id("kodmobi.E007"),
            )
        ]
    return []


def _uses_sandbox() -> bool:
    if settings.SANDBOX:
        return True
    if settings.PUBLIC_KEY in (DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY):
        return True
    host = urlsplit(settings.API_URL).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _production() -> list[CheckMessage]:
    if django_settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    if settings.TEST_NUMBERS and not settings.get("TEST_NUMBERS_IN_PRODUCTION"):
        messages.append(
            Error(
                "KODMOBI['TEST_NUMBERS'] is set while DEBUG is False: anyone who "
                "knows a test number and its code can log in as it.",
                hint="Remove them, or set KODMOBI['TEST_NUMBERS_IN_PRODUCTION'] = "
                "True if they are meant for an app-store review.",
                id=check_id("kodmobi.E014"),
            )
        )
    if _uses_sandbox():
        messages.append(
            Warning(
                "The kod.mobi sandbox is in use while DEBUG is False: nobody gets "
                "a real code.",
                hint="Point KODMOBI['API_URL'] and the keys at the real service.",
                id=check_id("kodmobi.W001"),
            )
        )
    if settings.CODE_LENGTH < 6:
        messages.append(
            Warning(
                f"Codes of {settings.CODE_LENGTH} characters are guessable: with "
                f"{settings.MAX_ATTEMPTS} tries a session falls about once in "
                f"{10**settings.CODE_LENGTH // max(1, settings.MAX_ATTEMPTS)}.",
                hint="Set the kod.mobi project to 6 or more digits and "
                "KODMOBI['CODE_LENGTH'] to match.",
                id=check_id("kodmobi.W003"),
            )
        )
    return messages
