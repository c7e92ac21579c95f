"""REST endpoints: thin translations between HTTP and the services."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_kodmobi import services
from django_kodmobi.client import SessionChannel
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import OTPSession

from . import serializers as s

__all__ = [
    "ChannelsView",
    "CompleteView",
    "ResendView",
    "StartView",
    "StatusView",
    "VerifyView",
]

FLOW_HEADER = "X-Kodmobi-Flow"

_STATUS: dict[Failure, int] = {
    Failure.INVALID_IDENTIFIER: HTTPStatus.BAD_REQUEST,
    Failure.CHANNEL_UNAVAILABLE: HTTPStatus.BAD_REQUEST,
    Failure.RESEND_TOO_SOON: HTTPStatus.TOO_MANY_REQUESTS,
    Failure.TOO_MANY_RESENDS: HTTPStatus.TOO_MANY_REQUESTS,
    Failure.CHALLENGE_FAILED: HTTPStatus.FORBIDDEN,
    Failure.INVALID_CODE: HTTPStatus.BAD_REQUEST,
    Failure.EXPIRED: HTTPStatus.BAD_REQUEST,
    Failure.LOCKED: HTTPStatus.FORBIDDEN,
    Failure.ALREADY_USED: HTTPStatus.CONFLICT,
    Failure.NOT_FOUND: HTTPStatus.NOT_FOUND,
    Failure.DESTINATION_MISMATCH: HTTPStatus.BAD_REQUEST,
    Failure.LOGIN_NOT_ALLOWED: HTTPStatus.FORBIDDEN,
    Failure.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    Failure.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
}
#: How long a client should wait when kod.mobi is down.
_UNAVAILABLE_RETRY_AFTER = 30

_ERRORS = {
    code: OpenApiResponse(s.ErrorReply, description=description)
    for code, description in [
        (
            400,
            "invalid, invalid_identifier, channel_unavailable, invalid_code, expired",
        ),
        (403, "csrf_failed, challenge_failed, locked, login_not_allowed"),
        (404, "not_found"),
        (409, "already_used"),
        (429, "resend_too_soon, too_many_resends, rate_limited (with Retry-After)"),
        (503, "kodmobi_unavailable (with Retry-After)"),
    ]
}


def _flow_value(session: OTPSession, token: str) -> str:
    return f"{session.pk}.{token}"


def _split_flow(value: str) -> tuple[str, str]:
    session_id, _dot, token = (value or "").partition(".")
    return session_id, token


def _channels_reply(
    channels: Iterable[SessionChannel], waits: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    waits = waits or {}
    return [
        {
            "type": c.type,
            "name": c.name,
            "is_active": c.is_active,
            # The longer of kod.mobi's and our own cooldown.
            "timeout": max(c.timeout, waits.get(c.type, 0)),
            "image_url": c.image_url,
            "link": c.link,
            "description": c.description,
        }
        for c in channels
    ]


def _flow_reply(
    session: OTPSession, channels: Iterable[SessionChannel], token: str | None = None
) -> dict[str, Any]:
    reply = {
        "status": session.status,
        "destination": mask_for_display(session.identifier),
        "channel": session.channel,
        "expires_at": session.expires_at,
        "attempts_left": session.attempts_left,
        "resends_left": max(0, settings.MAX_RESENDS - session.resends),
        "code_length": settings.CODE_LENGTH,
        "channels": _channels_reply(channels, services.channel_waits(session)),
    }
    if token is not None:
        reply["flow"] = _flow_value(session, token)
    return reply


@method_decorator(
    # Error reports never show an identifier, a code, a flow or a token.
    sensitive_post_parameters(
        "identifier", "code", "flow", "verify_token", "challenge_token"
    ),
    name="dispatch",
)
class KodMobiAPIView(APIView):
    """Shared behaviour: anonymous access, login CSRF, error translation."""

    permission_classes = [AllowAny]
    schema = AutoSchema()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # DRF checks CSRF only for logged-in users; a login endpoint needs it
        # for anonymous ones too (login CSRF), whenever it logs in by cookie.
        if settings.API_LOGIN == "session" and request.method not in SAFE_METHODS:
            SessionAuthentication().enforce_csrf(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, VerificationError):
            return self.failure_response(exc)
        if isinstance(exc, exceptions.ValidationError):
            return Response(
                {
                    "code": "invalid",
                    "detail": str(_("Invalid input.")),
                    "field_errors": exc.detail,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException):
            detail = str(exc.detail)
            code = (
                "csrf_failed" if detail.startswith("CSRF Failed") else exc.default_code
            )
            response.data = {"code": code, "detail": detail}
        return response

    @staticmethod
    def failure_response(exc: VerificationError) -> Response:
        data: dict[str, Any] = {"code": exc.reason.value, "detail": exc.message}
        headers = {}
        retry_after = exc.retry_after
        if exc.reason is Failure.UNAVAILABLE:
            retry_after = _UNAVAILABLE_RETRY_AFTER
        if retry_after is not None:
            data["retry_after"] = retry_after
            headers["Retry-After"] = str(retry_after)
        if exc.attempts_left is not None:
            data["attempts_left"] = exc.attempts_left
        return Response(data, status=_STATUS[exc.reason], headers=headers)

    def flow_from_header(self, request: Request) -> tuple[str, str] | None:
        value = request.headers.get(FLOW_HEADER, "")
        return _split_flow(value) if value else None


@extend_schema(
    summary="Start a login: send a code",
    request=s.StartRequest,
    responses={201: s.FlowReply, **_ERRORS},
)
class StartView(KodMobiAPIView):
    """Send a code to a phone or email. The reply is the same whether or not
    an account exists."""

    def post(self, request: Request) -> Response:
        data = _validated(s.StartRequest, request)
        flow = services.start_login(
            data["identifier"],
            channel=data.get("channel"),
            send=data["send"],
            client=services.ClientInfo.from_request(request._request),
            challenge_token=data.get("challenge_token"),
        )
        reply = _flow_reply(flow.session, flow.channels, flow.token)
        return Response(reply, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Send the code again, on the same or another channel",
    request=s.ResendRequest,
    responses={200: s.FlowReply, **_ERRORS},
)
class ResendView(KodMobiAPIView):
    def post(self, request: Request) -> Response:
        data = _validated(s.ResendRequest, request)
        session = services.resend_code(
            *_split_flow(data["flow"]),
            data["channel"],
            challenge_token=data.get("challenge_token"),
        )
        return Response(_flow_reply(session, services.get_channels(session)))


def _login_reply(request: Request, session_id: str, token: str) -> dict[str, Any]:
    mode = settings.API_LOGIN
    django_request: HttpRequest = request._request
    if mode == "session":
        user = services.log_in(django_request, session_id, token)
        extra: dict[str, Any] = {}
    else:
        user = services.authenticate_flow(django_request, session_id, token)
        extra = _issue_tokens(mode, request, user)
    return {
        "status": "logged_in",
        "user": {"id": str(user.pk), "username": user.get_username()},
        **extra,
    }


def _issue_tokens(
    mode: Any, request: Request, user: AbstractBaseUser
) -> dict[str, Any]:
    if mode == "token":
        from rest_framework.authtoken.models import Token

        token, _created = Token.objects.get_or_create(user=user)
        return {"token": token.key}
    if mode == "jwt":
        from rest_framework_simplejwt.tokens import RefreshToken

        refresh = RefreshToken.for_user(user)
        return {"access": str(refresh.access_token), "refresh": str(refresh)}
    return dict(mode(request, user))


@extend_schema(
    summary="Check the code and log in",
    request=s.VerifyRequest,
    responses={200: s.LoginReply, **_ERRORS},
)
class VerifyView(KodMobiAPIView):
    def post(self, request: Request) -> Response:
        data = _validated(s.VerifyRequest, request)
        session_id, token = _split_flow(data["flow"])
        services.verify_code(
            session_id,
            token,
            data["code"],
            challenge_token=data.get("challenge_token"),
            request=request._request,
        )
        return Response(_login_reply(request, session_id, token))


@extend_schema(
    summary="Log in with a verify token from the kod.mobi browser SDK",
    request=s.CompleteRequest,
    responses={200: s.LoginReply, **_ERRORS},
)
class CompleteView(KodMobiAPIView):
    def post(self, request: Request) -> Response:
        data = _validated(s.CompleteRequest, request)
        flow = services.complete_with_token(
            data["verify_token"],
            client=services.ClientInfo.from_request(request._request),
        )
        return Response(_login_reply(request, flow.session.pk, flow.token))


def _flow_parameter(*, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        FLOW_HEADER,
        location=OpenApiParameter.HEADER,
        required=required,
        description=description,
    )


@extend_schema(
    summary="Channels: the flow's (with the header) or the project's",
    parameters=[
        _flow_parameter(
            required=False,
            description="The flow reference from start; omit for the project's channels.",
        )
    ],
    responses={200: s.ChannelReply(many=True), **_ERRORS},
)
class ChannelsView(KodMobiAPIView):
    def get(self, request: Request) -> Response:
        flow = self.flow_from_header(request)
        session = services.get_flow_session(*flow) if flow else None
        channels = services.get_channels(session)
        waits = services.channel_waits(session) if session else None
        return Response(_channels_reply(channels, waits))


@extend_schema(
    summary="The flow's state: status, attempts and resends left, channels",
    parameters=[
        _flow_parameter(required=True, description="The flow reference from start.")
    ],
    responses={200: s.FlowReply, **_ERRORS},
)
class StatusView(KodMobiAPIView):
    def get(self, request: Request) -> Response:
        flow = self.flow_from_header(request)
        if flow is None:
            raise VerificationError(Failure.NOT_FOUND)
        session = services.get_flow_session(*flow)
        channels = services.get_channels(session) if session.is_open else ()
        return Response(_flow_reply(session, channels))


def _validated(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
