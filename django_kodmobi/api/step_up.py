"""Step-up through the API (browser mode): send a code to the person's
primary contact, confirm it; then views with ``StepUpRequired`` let them
through for ``STEP_UP_MAX_AGE`` seconds."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from django_kodmobi import services
from django_kodmobi.exceptions import Failure
from django_kodmobi.services import step_up, trust

from . import serializers as s
from .contacts import ContactsAPIView
from .schema import CODE_CHECK, UPSTREAM, errors_for
from .views import created_flow, split_flow, validated

__all__ = ["StepUpConfirmView", "StepUpStartView"]


class StepUpAPIView(ContactsAPIView):
    """Authenticated as the contacts are; a step-up needs no step-up."""

    permission_classes = ContactsAPIView.permission_classes[:1]


@extend_schema(
    summary="Step-up: send a code to my primary contact",
    request=s.StepUpRequest,
    responses={
        201: s.FlowReply,
        **errors_for(
            "StepUp",
            UPSTREAM | {Failure.RATE_LIMITED, Failure.NOT_FOUND},
            signed_in=True,
        ),
    },
)
class StepUpStartView(StepUpAPIView):
    """``not_found`` when the account has no phone or email to send it to."""

    def post(self, request: Request) -> Response:
        data = validated(s.StepUpRequest, request)
        flow = step_up.start_step_up(
            request.user,  # type: ignore[arg-type]
            client=services.ClientInfo.from_request(request._request),
            challenge_token=data.get("challenge_token"),
        )
        return created_flow(flow)


@extend_schema(
    summary="Step-up: confirm the code",
    request=s.StepUpVerifyRequest,
    responses={
        204: None,
        **errors_for("ConfirmStepUp", CODE_CHECK, signed_in=True),
    },
)
class StepUpConfirmView(StepUpAPIView):
    """The right code lets this session (or this token) through views with
    ``StepUpRequired`` for ``STEP_UP_MAX_AGE`` seconds. Wrong codes are
    capped as at login. With ``trust_browser`` (browser mode), this
    browser is trusted for ``TRUST_BROWSER_DAYS``."""

    def post(self, request: Request) -> Response:
        data = validated(s.StepUpVerifyRequest, request)
        step_up.confirm_step_up(
            request._request,
            *split_flow(data["flow"]),
            data["code"],
            challenge_token=data.get("challenge_token"),
        )
        response = Response(status=status.HTTP_204_NO_CONTENT)
        browser_mode = "Authorization" not in request.headers
        if data["trust_browser"] and browser_mode and trust.offers_trust():
            trust.trust_browser(request._request, response)
        return response
