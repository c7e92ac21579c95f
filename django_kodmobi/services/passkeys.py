"""Passkeys: proven once by a code, then a login with no message sent.

The WebAuthn checks are py_webauthn's (the ``[passkeys]`` extra); this
module keeps the rules around them:

- the relying party (RP ID and origins) comes from settings;
- a challenge is good for one ceremony and expires
  (``PASSKEY_CHALLENGE_SECONDS``): the ceremony that deletes its row goes
  on, every other answer to it is refused;
- the user-verification policy and the sign count are enforced, and a use
  is written only if the count it was checked against is still the saved
  one, so one assertion logs in once;
- a passkey belongs to one user: its credential id is unique, and the user
  handle the authenticator returns must be that user's;
- the people a code may not log in (inactive, staff when excluded) may not
  log in by passkey either;
- every creation, login, refusal and removal is in the audit
  (:class:`~django_kodmobi.models.PasskeyEvent`) with its reason.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import auth
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from django_kodmobi import clock, signals, users
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.limits import check_rate
from django_kodmobi.models import (
    Passkey,
    PasskeyChallenge,
    PasskeyEvent,
    PasskeyEventKind,
)

from .context import client_ip
from .step_up import mark_stepped_up

try:  # the [passkeys] extra
    import webauthn
    from webauthn.helpers import (
        base64url_to_bytes,
        bytes_to_base64url,
        options_to_json_dict,
        parse_client_data_json,
    )
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )
except ImportError:  # pragma: no cover - exercised by the no-extras tox env
    webauthn = None  # type: ignore[assignment]

__all__ = [
    "available",
    "log_in_by_passkey",
    "login_options",
    "passkeys_of",
    "register_passkey",
    "registration_options",
    "remove_passkey",
    "require_available",
]

BACKEND = "django_kodmobi.backends.KodMobiBackend"
REGISTER = "register"
LOGIN = "login"


def available() -> bool:
    """Passkeys are on and the library is installed."""
    return settings.PASSKEYS and webauthn is not None


def require_available() -> None:
    """:raises VerificationError: ``not_found`` while passkeys are off."""
    if not available():
        raise VerificationError(Failure.NOT_FOUND)


def user_handle(user: AbstractBaseUser) -> bytes:
    """The WebAuthn user handle of ``user``: stable, and no personal data."""
    return salted_hmac(
        "django_kodmobi.passkeys.user", str(user.pk), algorithm="sha256"
    ).digest()


def passkeys_of(user: AbstractBaseUser) -> list[Passkey]:
    return list(Passkey.objects.filter(user_id=user.pk))


# -- creating a passkey ----------------------------------------------------


def registration_options(
    request: HttpRequest, user: AbstractBaseUser
) -> dict[str, Any]:
    """The ``publicKey`` options for ``navigator.credentials.create()``."""
    require_available()
    check_rate("passkey_per_ip", client_ip(request))
    challenge = _new_challenge(REGISTER, user)
    options = webauthn.generate_registration_options(
        rp_id=settings.PASSKEY_RP_ID,
        rp_name=settings.PASSKEY_RP_NAME,
        user_id=user_handle(user),
        user_name=user.get_username(),
        challenge=challenge,
        timeout=settings.PASSKEY_CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=_policy(),
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in passkeys_of(user)
        ],
    )
    return options_to_json_dict(options)


def register_passkey(
    request: HttpRequest, user: AbstractBaseUser, credential: Any
) -> Passkey:
    """Save the passkey ``credential`` (the JSON of
    ``navigator.credentials.create()``) for ``user``.

    :raises VerificationError: ``passkey_refused``, ``rate_limited``,
        ``not_found`` (passkeys are off).
    """
    require_available()
    check_rate("passkey_per_ip", client_ip(request))
    refuse = _refusal(request, PasskeyEventKind.REGISTRATION_REFUSED, user)
    challenge = _consume_challenge(credential, REGISTER, user, refuse)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.PASSKEY_RP_ID,
            expected_origin=list(settings.PASSKEY_ORIGINS),
            require_user_verification=_policy() == UserVerificationRequirement.REQUIRED,
        )
    except WebAuthnException as exc:
        raise refuse(_reason(exc)) from exc
    transports = credential.get("response", {}).get("transports", [])
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                user_id=user.pk,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=[str(t) for t in transports][:8]
                if isinstance(transports, list)
                else [],
                backed_up=verified.credential_backed_up,
                name=_device_name(request),
            )
            _record(request, PasskeyEventKind.REGISTERED, user, passkey)
    except IntegrityError as exc:
        # Its credential id is saved already (for this user or another).
        raise refuse("already_registered") from exc
    signals.passkey_registered.send(
        sender=Passkey, user=user, passkey=passkey, request=request
    )
    return passkey


def remove_passkey(
    request: HttpRequest, user: AbstractBaseUser, passkey_id: str
) -> None:
    """Delete one of ``user``'s passkeys; the audit keeps that it was.

    :raises VerificationError: ``not_found`` (not one of theirs).
    """
    with transaction.atomic():
        passkey = (
            Passkey.objects.select_for_update()
            .filter(pk=passkey_id, user_id=user.pk)
            .first()
        )
        if passkey is None:
            raise VerificationError(Failure.NOT_FOUND)
        _record(request, PasskeyEventKind.REMOVED, user, passkey, passkey.name)
        passkey.delete()
    signals.passkey_removed.send(sender=Passkey, user=user, passkey=passkey)


# -- logging in by passkey -------------------------------------------------


def login_options(request: HttpRequest) -> dict[str, Any]:
    """The ``publicKey`` options for ``navigator.credentials.get()``: any
    passkey of this site (discoverable), so no account is named first."""
    require_available()
    check_rate("passkey_per_ip", client_ip(request))
    options = webauthn.generate_authentication_options(
        rp_id=settings.PASSKEY_RP_ID,
        challenge=_new_challenge(LOGIN, None),
        timeout=settings.PASSKEY_CHALLENGE_SECONDS * 1000,
        user_verification=_policy(),
    )
    return options_to_json_dict(options)


def log_in_by_passkey(
    request: HttpRequest, credential: Any, *, session_login: bool = True
) -> AbstractBaseUser:
    """Check the assertion ``credential`` (the JSON of
    ``navigator.credentials.get()``) and log its user in: with a Django
    session (``session_login``), or only return the user, for a caller that
    issues tokens itself. No message is sent and kod.mobi is not called.

    :raises VerificationError: ``passkey_refused`` (whatever the cause: the
        audit keeps which), ``rate_limited``, ``not_found`` (passkeys off).
    """
    require_available()
    check_rate("passkey_per_ip", client_ip(request))
    refuse = _refusal(request, PasskeyEventKind.LOGIN_REFUSED, None)
    challenge = _consume_challenge(credential, LOGIN, None, refuse)
    passkey = (
        Passkey.objects.select_related("user")
        .filter(credential_id=str(credential.get("id", "")))
        .first()
    )
    if passkey is None:
        raise refuse("unknown_passkey")
    user = passkey.user
    refuse = _refusal(request, PasskeyEventKind.LOGIN_REFUSED, user, passkey)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=settings.PASSKEY_RP_ID,
            expected_origin=list(settings.PASSKEY_ORIGINS),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=_policy() == UserVerificationRequirement.REQUIRED,
        )
    except WebAuthnException as exc:
        raise refuse(_reason(exc)) from exc
    handle = credential.get("response", {}).get("userHandle")
    if handle and _decoded(handle) != user_handle(user):
        raise refuse("wrong_user")
    if not users.can_log_in(user):
        raise refuse("inactive" if not user.is_active else "staff_excluded")
    with transaction.atomic():
        # Written only against the count it was checked with: of two
        # answers raced with one assertion, one logs in.
        used = Passkey.objects.filter(
            pk=passkey.pk, sign_count=passkey.sign_count
        ).update(sign_count=verified.new_sign_count, last_used_at=clock.now())
        if used:
            _record(request, PasskeyEventKind.LOGGED_IN, user, passkey)
    if not used:
        raise refuse("replayed")
    if session_login:
        auth.login(request, user, backend=BACKEND)
        mark_stepped_up(request)
    return user


# -- the parts -------------------------------------------------------------


def _policy() -> UserVerificationRequirement:
    return UserVerificationRequirement(settings.PASSKEY_USER_VERIFICATION)


def _new_challenge(purpose: str, user: AbstractBaseUser | None) -> bytes:
    challenge = secrets.token_bytes(32)
    PasskeyChallenge.objects.create(
        challenge=bytes_to_base64url(challenge),
        purpose=purpose,
        user_id=None if user is None else user.pk,
        expires_at=clock.now() + timedelta(seconds=settings.PASSKEY_CHALLENGE_SECONDS),
    )
    return challenge


def _consume_challenge(
    credential: Any,
    purpose: str,
    user: AbstractBaseUser | None,
    refuse: Callable[[str], VerificationError],
) -> bytes:
    """The challenge ``credential`` answers, deleted: each is used once, by
    the ceremony (and the user) it was made for, before it expires."""
    try:
        client_data = parse_client_data_json(
            _decoded(credential["response"]["clientDataJSON"])
        )
    except Exception as exc:  # noqa: BLE001 - any malformed answer is refused
        raise refuse("malformed") from exc
    owner = Q(user__isnull=True) if user is None else Q(user_id=user.pk)
    mine = PasskeyChallenge.objects.filter(
        owner,
        challenge=bytes_to_base64url(client_data.challenge),
        purpose=purpose,
        expires_at__gt=clock.now(),
    )
    deleted, _rows = mine.delete()
    if not deleted:
        raise refuse("challenge")  # unknown, used, expired or someone else's
    return client_data.challenge


def _decoded(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not base64url")
    return base64url_to_bytes(value)


#: What py_webauthn's refusals mean, in the audit's vocabulary.
_REASONS = (
    ("origin", "wrong_origin"),
    ("rp id", "wrong_rp_id"),
    ("sign count", "sign_count"),
    ("user verification", "user_not_verified"),
    ("signature", "bad_signature"),
    ("challenge", "challenge"),
)


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    return next((reason for words, reason in _REASONS if words in text), "invalid")


def _refusal(
    request: HttpRequest,
    kind: PasskeyEventKind,
    user: AbstractBaseUser | None,
    passkey: Passkey | None = None,
) -> Callable[[str], VerificationError]:
    """A function that records a refusal for ``reason`` and returns the one
    error every refusal raises."""

    def refuse(reason: str) -> VerificationError:
        _record(request, kind, user, passkey, reason)
        if kind == PasskeyEventKind.LOGIN_REFUSED:
            auth.signals.user_login_failed.send(
                sender=__name__,
                credentials={"kodmobi_passkey": "********"},
                request=request,
            )
        return VerificationError(Failure.PASSKEY_REFUSED)

    return refuse


def _record(
    request: HttpRequest,
    kind: PasskeyEventKind,
    user: AbstractBaseUser | None,
    passkey: Passkey | None,
    detail: str = "",
) -> None:
    PasskeyEvent.objects.create(
        kind=kind,
        user_id=None if user is None else user.pk,
        passkey=passkey,
        detail=detail,
        client_ip=client_ip(request),
    )


def _device_name(request: HttpRequest) -> str:
    """A name a person recognises in their list: the browser and system."""
    agent = request.headers.get("User-Agent", "")
    browser = next(
        (name for name in ("Edg", "Firefox", "Chrome", "Safari") if name in agent), ""
    )
    system = next(
        (
            name
            for name in ("Android", "iPhone", "iPad", "Mac OS", "Windows", "Linux")
            if name in agent
        ),
        "",
    )
    names = {"Edg": "Edge", "Mac OS": "macOS"}
    parts = [names.get(browser, browser), names.get(system, system)]
    return " · ".join(p for p in parts if p) or "Passkey"
