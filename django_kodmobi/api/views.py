"""REST endpoints: thin translations between HTTP and the services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_kodmobi import devices, services
from django_kodmobi.client import SessionChannel
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import OTPSession
from django_kodmobi.pages.bases import OpenToAll, OwnCommits
from django_kodmobi.services import Flow

from . import serializers as s
from .parsers import BoundedJSONParser
from .schema import FLOW_HEADER, UPSTREAM, errors_for, flow_parameter

__all__ = [
    "ChannelsView",
    "CompleteView",
    "ResendView",
    "StartView",
    "StatusView",
    "VerifyView",
]


#: How long a client should wait when kod.mobi is down.
_UNAVAILABLE_RETRY_AFTER = 30


def _flow_value(session: OTPSession, token: str) -> str:
    return f"{session.pk}.{token}"


def split_flow(value: str) -> tuple[str, str]:
    session_id, _dot, token = (value or "").partition(".")
    return session_id, token


def channels_reply(
    session: OTPSession | None, channels: tuple[SessionChannel, ...]
) -> list[dict[str, Any]]:
    return [
        {
            "type": card.channel.type,
            "name": card.channel.name,
            "is_active": card.usable,
            "timeout": card.wait,
            "image_url": card.channel.image_url,
            "link": card.channel.link,
            "description": card.channel.description,
        }
        for card in services.channel_cards(session, channels)
    ]


def flow_reply(
    session: OTPSession, channels: tuple[SessionChannel, ...], token: str | None = None
) -> dict[str, Any]:
    reply = {
        "status": session.status,
        "destination": mask_for_display(session.identifier),
        "channel": session.channel,
        "expires_at": session.expires_at,
        "attempts_left": session.attempts_left,
        "resends_left": session.resends_left,
        "code_length": settings.CODE_LENGTH,
        "channels": channels_reply(session, channels),
    }
    if token is not None:
        reply["flow"] = _flow_value(session, token)
    if settings.BROWSER_SDK:
        # The browser SDK sends and checks the code on this kod.mobi session.
        reply["kodmobi_session_id"] = session.kodmobi_session_id
    return reply


class CodedErrors(APIView):
    """DRF's own errors (authentication, permissions, CSRF, throttles) with
    the ``code`` every error reply of this API carries."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException):
            detail = str(exc.detail)
            code = getattr(exc.detail, "code", None) or exc.default_code
            if detail.startswith("CSRF Failed"):
                code = "csrf_failed"
            response.data = {"code": code, "detail": detail}
        return response


@method_decorator(
    # Error reports never show an identifier, a code, a flow or a token.
    sensitive_post_parameters(
        "identifier", "code", "flow", "verify_token", "challenge_token"
    ),
    name="dispatch",
)
class KodMobiAPIView(OpenToAll, OwnCommits, CodedErrors):
    """Shared behaviour: anonymous access, login CSRF, error translation."""

    permission_classes = [AllowAny]
    # JSON only: form encoding cannot carry every string a JSON body can,
    # so the schema could not promise what the API accepts.
    parser_classes = [BoundedJSONParser]
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
        if isinstance(exc, RequestDataTooBig):
            return Response(
                {
                    "code": "request_too_large",
                    "detail": str(_("The request is too large.")),
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        if isinstance(exc, exceptions.ValidationError):
            return Response(
                {
                    "code": "invalid",
                    "detail": str(_("Invalid input.")),
                    "field_errors": exc.detail,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        if isinstance(exc, exceptions.ParseError):
            # A body that is not JSON at all is invalid input too: one code.
            return Response(
                {"code": "invalid", "detail": str(exc.detail)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return super().handle_exception(exc)

    @staticmethod
    def failure_response(exc: VerificationError) -> Response:
        data: dict[str, Any] = {"code": exc.reason.value, "detail": exc.message}
        headers = {}
        retry_after = exc.retry_after
        if exc.reason is Failure.UNAVAILABLE and retry_after is None:
            retry_after = _UNAVAILABLE_RETRY_AFTER
        if retry_after is not None:
            data["retry_after"] = retry_after
            headers["Retry-After"] = str(retry_after)
        if exc.attempts_left is not None:
            data["attempts_left"] = exc.attempts_left
        return Response(data, status=exc.http_status, headers=headers)

    def flow_from_header(self, request: Request) -> tuple[str, str] | None:
        value = request.headers.get(FLOW_HEADER, "")
        return split_flow(value) if value else None


@extend_schema(
    summary="Start a login: send a code",
    request=s.StartRequest,
    responses={
        201: s.FlowReply,
        **errors_for("Start", UPSTREAM | {Failure.RATE_LIMITED}),
    },
)
class StartView(KodMobiAPIView):
    """Send a code to a phone or email. The reply is the same whether or not
    an account exists."""

    def post(self, request: Request) -> Response:
        data = validated(s.StartRequest, request)
        flow = services.start_login(
            data["identifier"],
            channel=data.get("channel"),
            send=data["send"],
            client=services.ClientInfo.from_request(
                request._request, data.get("device_token", "")
            ),
            challenge_token=data.get("challenge_token"),
        )
        return created_flow(flow)


@extend_schema(
    summary="Send the code again, on the same or another channel",
    request=s.ResendRequest,
    responses={
        200: s.FlowReply,
        **errors_for(
            "Resend",
            UPSTREAM
            | {
                Failure.NOT_FOUND,
                Failure.ALREADY_USED,
                Failure.TOO_MANY_RESENDS,
                Failure.RATE_LIMITED,
            },
        ),
    },
)
class ResendView(KodMobiAPIView):
    """Send the code of this flow again. Resends are capped per flow and each
    channel waits its cooldown; a resend never resets the wrong-code count."""

    def post(self, request: Request) -> Response:
        data = validated(s.ResendRequest, request)
        session = services.resend_code(
            *split_flow(data["flow"]),
            data["channel"],
            challenge_token=data.get("challenge_token"),
        )
        return Response(flow_reply(session, services.get_channels(session)))


def created_flow(flow: Flow) -> Response:
    """201 with a new flow: its state and the token that continues it."""
    reply = flow_reply(flow.session, flow.channels, flow.token)
    return Response(reply, status=status.HTTP_201_CREATED)


def login_reply(request: Request, user: AbstractBaseUser) -> dict[str, Any]:
    """The reply to a login: the user and, in token modes, the tokens."""
    mode = settings.API_LOGIN
    extra = {} if mode == "session" else _issue_tokens(mode, request, user)
    return {
        "status": "logged_in",
        "user": user_reply(user),
        **extra,
    }


def user_reply(user: AbstractBaseUser) -> dict[str, Any]:
    """The user as replies show it: the id typed as the model's primary key
    (a number for Django's default, a string for UUIDs and the like)."""
    pk = user.pk
    return {
        "id": pk if isinstance(pk, int) else str(pk),
        "username": user.get_username(),
    }


def _log_in(request: Request, session_id: str, token: str) -> AbstractBaseUser:
    """Log a verified flow in: a Django login in session mode, else only
    authenticate (the tokens are the login)."""
    if settings.API_LOGIN == "session":
        return services.log_in(request._request, session_id, token)
    return services.authenticate_flow(request._request, session_id, token)


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
    responses={
        200: s.LoginReply,
        **errors_for(
            "Verify",
            UPSTREAM
            | {
                Failure.NOT_FOUND,
                Failure.INVALID_CODE,
                Failure.ALREADY_USED,
                Failure.LOGIN_NOT_ALLOWED,
                Failure.RATE_LIMITED,
            },
        ),
    },
)
class VerifyView(KodMobiAPIView):
    """Check the code and log in: a session cookie, or tokens, per
    ``API_LOGIN``. A right code logs in exactly once."""

    def post(self, request: Request) -> Response:
        data = validated(s.VerifyRequest, request)
        session_id, token = split_flow(data["flow"])
        user = services.verify_and_log_in(
            request._request,
            session_id,
            token,
            data["code"],
            challenge_token=data.get("challenge_token"),
            session_login=settings.API_LOGIN == "session",
        )
        reply = login_reply(request, user)
        # This device logged in as this identifier: it is trusted for it.
        identifier = services.logged_in_flow(request._request).identifier
        reply["device_token"] = devices.issue(identifier, data.get("device_token", ""))
        response = Response(reply)
        if settings.API_LOGIN == "session":
            devices.remember(request._request, response, identifier)
        return response


@extend_schema(
    summary="Log in with a verify token from the kod.mobi browser SDK",
    description=(
        "Only with KODMOBI['BROWSER_SDK'] on (404 otherwise). The flow comes "
        "from start; the browser SDK sent and checked its code on "
        "kodmobi_session_id, and the verify token must name that session."
    ),
    request=s.CompleteRequest,
    responses={
        200: s.LoginReply,
        **errors_for(
            "Complete",
            UPSTREAM
            | {
                Failure.NOT_FOUND,
                Failure.ALREADY_USED,
                Failure.DESTINATION_MISMATCH,
                Failure.LOGIN_NOT_ALLOWED,
                Failure.RATE_LIMITED,
            },
        ),
    },
)
class CompleteView(KodMobiAPIView):
    def post(self, request: Request) -> Response:
        if not settings.BROWSER_SDK:
            raise VerificationError(Failure.NOT_FOUND)
        data = validated(s.CompleteRequest, request)
        session_id, token = split_flow(data["flow"])
        services.complete_with_token(
            session_id, token, data["verify_token"], request=request._request
        )
        return Response(login_reply(request, _log_in(request, session_id, token)))


@extend_schema(
    summary="Channels: the flow's (with the header) or the project's",
    parameters=[
        flow_parameter(
            required=False,
            description="The flow reference from start; omit for the project's channels.",
        )
    ],
    responses={
        200: s.ChannelReply(many=True),
        **errors_for("Channels", UPSTREAM | {Failure.NOT_FOUND}, body=False),
    },
)
class ChannelsView(KodMobiAPIView):
    """The channels a code can go through, with their waits: the flow's (only
    those that can reach its phone or email), or the project's."""

    def get(self, request: Request) -> Response:
        flow = self.flow_from_header(request)
        session = services.get_flow_session(*flow) if flow else None
        return Response(channels_reply(session, services.get_channels(session)))


@extend_schema(
    summary="The flow's state: status, attempts and resends left, channels",
    parameters=[
        flow_parameter(required=True, description="The flow reference from start.")
    ],
    responses={
        200: s.FlowReply,
        **errors_for(
            "Status",
            UPSTREAM | {Failure.NOT_FOUND},
            body=False,
            also={400: ["invalid"]},
        ),
    },
)
class StatusView(KodMobiAPIView):
    """Where a flow stands: status, attempts and resends left, channels."""

    def get(self, request: Request) -> Response:
        if FLOW_HEADER not in request.headers:
            raise exceptions.ValidationError(
                {FLOW_HEADER: [_("This header is required.")]}
            )
        session = services.get_flow_session(*split_flow(request.headers[FLOW_HEADER]))
        channels = services.get_channels(session) if session.is_open else ()
        return Response(flow_reply(session, channels))


def validated(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
