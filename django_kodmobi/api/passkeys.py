"""Passkeys for SPAs and apps: create one after a code (signed in), log in
by one with no message sent, list and remove them. With
``KODMOBI["PASSKEYS"]`` off every endpoint answers 404 ``not_found``.

A ceremony is two calls: ``.../options/`` returns ``publicKey`` for
``navigator.credentials.create()`` or ``.get()``, and the credential that
returns is posted back. Each options call makes a challenge that one answer
can use, within ``PASSKEY_CHALLENGE_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure
from django_kodmobi.models import Passkey
from django_kodmobi.services import passkeys
from django_kodmobi.step_up import StepUpRequired

from . import serializers as s
from .schema import errors_for
from .session import login_authenticators
from .views import KodMobiAPIView, login_reply, validated

__all__ = [
    "PasskeyListView",
    "PasskeyLoginOptionsView",
    "PasskeyLoginView",
    "PasskeyRegisterOptionsView",
    "PasskeyRegisterView",
    "PasskeyView",
]

_CEREMONY = {Failure.NOT_FOUND, Failure.RATE_LIMITED, Failure.UNAVAILABLE_HERE}


def passkey_reply(passkey: Passkey) -> dict[str, Any]:
    return {
        "id": passkey.pk,
        "name": passkey.name,
        "created_at": passkey.created_at,
        "last_used_at": passkey.last_used_at,
        "synced": passkey.backed_up,
    }


class SignedInPasskeyView(KodMobiAPIView):
    """For a signed-in person (cookie, DRF token or JWT)."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self) -> list[Any]:
        return login_authenticators()


@extend_schema(
    summary="Passkey: the options to create one",
    request=None,
    responses={
        200: s.PasskeyOptionsReply,
        **errors_for("PasskeyRegisterOptions", _CEREMONY, body=False, signed_in=True),
    },
)
class PasskeyRegisterOptionsView(SignedInPasskeyView):
    """Options for ``navigator.credentials.create()``, for the signed-in
    person, typically right after a code. They exclude the passkeys the
    person has already, so one device holds one."""

    def post(self, request: Request) -> Response:
        options = passkeys.registration_options(request._request, request.user)  # type: ignore[arg-type]
        return Response({"publicKey": options})


@extend_schema(
    summary="Passkey: save the one just created",
    request=s.PasskeyCredentialRequest,
    responses={
        201: s.PasskeyReply,
        **errors_for(
            "PasskeyRegister", _CEREMONY | {Failure.PASSKEY_REFUSED}, signed_in=True
        ),
    },
)
class PasskeyRegisterView(SignedInPasskeyView):
    """Save the credential ``navigator.credentials.create()`` returned. The
    challenge, origin, RP ID and user verification are checked; a passkey
    saved once (for anyone) is refused."""

    def post(self, request: Request) -> Response:
        data = validated(s.PasskeyCredentialRequest, request)
        passkey = passkeys.register_passkey(
            request._request,
            request.user,  # type: ignore[arg-type]
            data["credential"],
        )
        return Response(passkey_reply(passkey), status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Passkey login: the options",
    request=None,
    responses={
        200: s.PasskeyOptionsReply,
        **errors_for("PasskeyLoginOptions", _CEREMONY, body=False),
    },
)
class PasskeyLoginOptionsView(KodMobiAPIView):
    """Options for ``navigator.credentials.get()``: any passkey of this site
    (no account named), for autofill (conditional mediation) or a button."""

    def post(self, request: Request) -> Response:
        return Response({"publicKey": passkeys.login_options(request._request)})


@extend_schema(
    summary="Passkey login: no code, no message",
    request=s.PasskeyCredentialRequest,
    responses={
        200: s.LoginReply,
        **errors_for("PasskeyLogin", _CEREMONY | {Failure.PASSKEY_REFUSED}),
    },
)
class PasskeyLoginView(KodMobiAPIView):
    """Log in by the assertion of a passkey: a session cookie, or tokens,
    per ``API_LOGIN``, as verify does. One assertion logs in once."""

    def post(self, request: Request) -> Response:
        data = validated(s.PasskeyCredentialRequest, request)
        user = passkeys.log_in_by_passkey(
            request._request,
            data["credential"],
            session_login=settings.API_LOGIN == "session",
        )
        return Response(login_reply(request, user))


class StepUpForRemoval(StepUpRequired):
    trusted_browser = False  # a fresh code, as for every factor's change

    def has_permission(self, request: Any, view: Any) -> bool:
        return request.method in SAFE_METHODS or super().has_permission(request, view)


@extend_schema(
    summary="My passkeys",
    responses={
        200: s.PasskeyReply(many=True),
        **errors_for("ListPasskeys", {Failure.NOT_FOUND}, body=False, signed_in=True),
    },
)
class PasskeyListView(SignedInPasskeyView):
    """The signed-in person's passkeys, newest first."""

    def get(self, request: Request) -> Response:
        passkeys.require_available()
        mine = passkeys.passkeys_of(request.user)  # type: ignore[arg-type]
        return Response([passkey_reply(p) for p in mine])


@extend_schema(
    parameters=[
        OpenApiParameter(
            "passkey_id", str, OpenApiParameter.PATH, description="The passkey's id."
        )
    ]
)
class PasskeyView(SignedInPasskeyView):
    """One passkey of the signed-in person. Removing it needs a step-up;
    the code still logs in."""

    permission_classes = [IsAuthenticated, StepUpForRemoval]

    @extend_schema(
        summary="Remove a passkey (the code still logs in)",
        responses={
            204: None,
            **errors_for(
                "RemovePasskey",
                {Failure.NOT_FOUND},
                body=False,
                signed_in=True,
                step_up=True,
            ),
        },
    )
    def delete(self, request: Request, passkey_id: str) -> Response:
        passkeys.remove_passkey(request._request, request.user, passkey_id)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
