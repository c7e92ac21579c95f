"""Step-up ("sudo mode"): confirm a code again before a sensitive action.

A person who confirmed a code within ``max_age`` seconds may go on; anyone
else is sent a code to their primary contact first. The moment is kept with
the user it was for: in the Django session for browsers (a login starts a
new session, so it never carries over), and in the cache under a hash of the
``Authorization`` header for API clients in app mode (a new token starts
afresh). A login by code counts as a confirmation (it is one).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock, soft_cache
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import Contact, IdentifierKind, OTPSession, Purpose
from django_kodmobi.users import Identifier, identifier_field, normalize_identifier

from . import trust
from .context import ClientInfo
from .flows import Flow, get_flow_session
from .start import start_login
from .verify import verify_code

__all__ = [
    "SESSION_KEY",
    "confirm_step_up",
    "mark_stepped_up",
    "start_step_up",
    "step_up_destination",
    "step_up_satisfied",
    "stepped_up_recently",
]

SESSION_KEY = "kodmobi_stepped_up"


#: How long an API client's mark is kept (the check is ``max_age``).
_API_MARK_SECONDS = 24 * 3600


def _api_credential_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    return f"kodmobi:step-up:{hashlib.sha256(header.encode()).hexdigest()}"


def stepped_up_recently(request: HttpRequest, max_age: int) -> bool:
    """Whether the logged-in person confirmed a code in the last ``max_age``
    seconds, in this session (or with this API credential)."""
    key = _api_credential_key(request)
    mark = soft_cache.get(key) if key else request.session.get(SESSION_KEY)
    if not isinstance(mark, dict) or mark.get("user") != str(request.user.pk):
        return False
    at = mark.get("at")
    return isinstance(at, (int, float)) and 0 <= clock.epoch() - at <= max_age


def step_up_satisfied(
    request: HttpRequest, max_age: int, *, trusted_browser: bool = True
) -> bool:
    """Whether a guarded view may go on: a code within ``max_age`` seconds,
    or (when ``trusted_browser``) a browser its owner trusts. Trust is a
    browser's: an API credential in ``Authorization`` always needs a code."""
    if stepped_up_recently(request, max_age):
        return True
    return (
        trusted_browser
        and _api_credential_key(request) is None
        and trust.trusted_browser(request) is not None
    )


def mark_stepped_up(request: HttpRequest) -> None:
    mark = {"user": str(request.user.pk), "at": clock.epoch()}
    key = _api_credential_key(request)
    if key:
        soft_cache.set(key, mark, _API_MARK_SECONDS)
    else:
        request.session[SESSION_KEY] = mark


def step_up_destination(user: AbstractBaseUser) -> Identifier | None:
    """Where a step-up code goes: the primary contact (a phone first), else
    a verified one, else the phone or email in the user fields."""
    contact = (
        Contact.objects.verified()
        .filter(user_id=user.pk)
        .order_by("-primary", "-kind", "verified_at")  # phone > email
        .first()
    )
    if contact is not None:
        return Identifier(contact.value, IdentifierKind(contact.kind))
    removed = set(
        Contact.objects.filter(user_id=user.pk, removed_at__isnull=False).values_list(
            "value", flat=True
        )
    )
    for kind in (IdentifierKind.PHONE, IdentifierKind.EMAIL):
        field = identifier_field(kind)
        value = getattr(user, field, "") if field else ""
        try:
            found = normalize_identifier(value) if value else None
        except VerificationError:
            continue
        # A phone or email the person removed gets no more codes, even
        # while the user fields still hold it.
        if found is not None and found.kind is kind and found.value not in removed:
            return found
    return None


def start_step_up(
    user: AbstractBaseUser,
    *,
    client: ClientInfo | None = None,
    challenge_token: str | None = None,
) -> Flow:
    """Send a step-up code to ``user``'s primary contact.

    :raises VerificationError: ``not_found`` when the user has no phone or
        email to send it to, or as :func:`start_login`.
    """
    destination = step_up_destination(user)
    if destination is None:
        raise VerificationError(Failure.NOT_FOUND)
    # The account asks a code of its own contact: its own send budget.
    client = replace(client or ClientInfo(), user_pk=user.pk)
    flow = start_login(
        destination.value,
        purpose=Purpose.STEP_UP,
        client=client,
        challenge_token=challenge_token,
    )
    OTPSession.objects.filter(pk=flow.session.pk).update(user_id=user.pk)
    return flow


@sensitive_variables("flow_token", "code")
def confirm_step_up(
    request: HttpRequest,
    session_id: str,
    flow_token: str,
    code: str,
    *,
    challenge_token: str | None = None,
) -> None:
    """Check a step-up code; on success the session counts as stepped up.

    :raises VerificationError: ``not_found`` (another user's flow, or not a
        step-up), or as :func:`verify_code`.
    """
    session = get_flow_session(session_id, flow_token)
    if session.purpose != Purpose.STEP_UP or session.user_id != request.user.pk:
        raise VerificationError(Failure.NOT_FOUND)
    verify_code(
        session_id, flow_token, code, request=request, challenge_token=challenge_token
    )
    if not OTPSession.objects.consume(session):
        raise VerificationError(Failure.ALREADY_USED)
    mark_stepped_up(request)
