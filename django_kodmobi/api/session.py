"""The API's lifecycle around a login: what a client needs before it starts
(the configuration, and the CSRF cookie in session mode), and who is logged
in afterwards, with a way out.

Modelled on allauth's headless ``config`` and ``session`` endpoints, so an
SPA or a mobile app needs no HTML page to begin and no guess to end.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from django_kodmobi import services
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.pages.bases import OpenToAll

from . import serializers as s
from .schema import errors_for
from .views import CodedErrors, channels_reply, user_reply

__all__ = ["ConfigView", "SessionView"]


def login_authenticators() -> list[Any]:
    """Whatever this app's login hands out (a session, a DRF token, a JWT),
    beside the project's own DRF authentication classes."""
    classes: list[Any] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    mode = login_mode()
    if mode == "token":
        from rest_framework.authentication import TokenAuthentication

        classes.insert(0, TokenAuthentication)
    elif mode == "jwt":
        from rest_framework_simplejwt.authentication import JWTAuthentication

        classes.insert(0, JWTAuthentication)
    if SessionAuthentication not in classes:
        classes.append(SessionAuthentication)
    return [cls() for cls in dict.fromkeys(classes)]


def login_mode() -> str:
    mode = settings.API_LOGIN
    return mode if isinstance(mode, str) else "custom"


@extend_schema(summary="What a client needs to start", responses={200: s.ConfigReply})
@method_decorator(ensure_csrf_cookie, name="get")
class ConfigView(OpenToAll, APIView):
    """The login's configuration; in session mode it also sets the CSRF
    cookie, so a single-page app needs no HTML page before it starts."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    # The app's own views carry their schema class: the schema works
    # whatever DRF's DEFAULT_SCHEMA_CLASS says.
    schema = AutoSchema()

    def get(self, request: Request) -> Response:
        try:
            channels = channels_reply(None, services.get_channels())
        except VerificationError:  # kod.mobi is down: the login page degrades too
            channels = []
        header = django_settings.CSRF_HEADER_NAME.removeprefix("HTTP_")
        return Response(
            {
                "identifiers": list(settings.IDENTIFIERS),
                "code_length": settings.CODE_LENGTH,
                "channels": channels,
                "browser_sdk": settings.BROWSER_SDK,
                "login_mode": login_mode(),
                "csrf_header": header.replace("_", "-").title(),
            }
        )


class SessionView(OpenToAll, CodedErrors, APIView):
    """Who is logged in (by session cookie, or by the token in the
    ``Authorization`` header with the authentication classes your DRF
    settings name), and logging out."""

    schema = AutoSchema()

    def get_authenticators(self) -> list[Any]:
        return login_authenticators()

    def get_permissions(self) -> list[Any]:
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        summary="Who is logged in",
        responses={
            200: s.SessionReply,
            **errors_for(
                "Session",
                body=False,
                also={401: ["authentication_failed", "not_authenticated"]},
            ),
        },
    )
    def get(self, request: Request) -> Response:
        user = request.user
        if not user.is_authenticated:
            return Response({"authenticated": False, "user": None})
        return Response({"authenticated": True, "user": user_reply(user)})

    @extend_schema(
        summary="Log out",
        description="Ends the Django session; in token mode also deletes the "
        "DRF token. A JWT cannot be revoked here: the client drops it (or add "
        "simplejwt's blacklist app and post the refresh token to it).",
        responses={
            204: None,
            **errors_for(
                "Logout", body=False, signed_in=True, also={403: ["csrf_failed"]}
            ),
        },
    )
    def delete(self, request: Request) -> Response:
        if login_mode() == "token":
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user_id=str(request.user.pk)).delete()
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
