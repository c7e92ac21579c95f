"""The logged-in person's phones and emails: list, add, verify, make
primary, remove. Authenticated as ``session/`` is (cookie, DRF token or
JWT); in session mode, changes need the CSRF header."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from django_kodmobi import services
from django_kodmobi.exceptions import Failure
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import Contact
from django_kodmobi.services import contacts
from django_kodmobi.services.step_up import step_up_destination
from django_kodmobi.step_up import StepUpRequired

from . import serializers as s
from .schema import CODE_CHECK, UPSTREAM, errors_for
from .session import login_authenticators
from .views import KodMobiAPIView, created_flow, split_flow, validated

__all__ = ["ContactListView", "ContactVerifyView", "ContactView"]


def contact_reply(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "kind": contact.kind,
        "destination": mask_for_display(contact.value),
        "verified": contact.is_verified,
        "primary": contact.primary,
    }


class StepUpForChanges(StepUpRequired):
    """Changes need a step-up; adding a first contact, when there is nothing
    to send a step-up code to, does not. A trusted browser still needs a
    code: contacts are what proves who a person is."""

    trusted_browser = False

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if step_up_destination(request.user) is None:
            return True
        return super().has_permission(request, view)


class ContactsAPIView(KodMobiAPIView):
    """For a logged-in person; changes need a step-up."""

    permission_classes = [IsAuthenticated, StepUpForChanges]

    def get_authenticators(self) -> list[Any]:
        return login_authenticators()


class ContactListView(ContactsAPIView):
    """The person's contacts, and adding one (a code goes to it)."""

    @extend_schema(
        summary="My phones and emails",
        responses={
            200: s.ContactReply(many=True),
            **errors_for("ListContacts", body=False, signed_in=True),
        },
    )
    def get(self, request: Request) -> Response:
        user_id = request.user.pk
        assert user_id is not None  # IsAuthenticated
        mine = Contact.objects.filter(user_id=user_id, removed_at__isnull=True)
        return Response([contact_reply(c) for c in mine])

    @extend_schema(
        summary="Add a phone or email: send it a code",
        request=s.ContactRequest,
        responses={
            201: s.FlowReply,
            **errors_for(
                "AddContact",
                UPSTREAM | {Failure.RATE_LIMITED, Failure.CONTACT_EXISTS},
                signed_in=True,
                step_up=True,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(s.ContactRequest, request)
        flow = contacts.add_contact(
            request.user,  # type: ignore[arg-type]
            data["identifier"],
            channel=data.get("channel"),
            client=services.ClientInfo.from_request(request._request),
            challenge_token=data.get("challenge_token"),
        )
        return created_flow(flow)


@extend_schema(
    summary="Verify an added phone or email with its code",
    request=s.ContactVerifyRequest,
    responses={
        200: s.ContactReply,
        **errors_for(
            "VerifyContact",
            CODE_CHECK | {Failure.CONTACT_UNAVAILABLE},
            signed_in=True,
            step_up=True,
        ),
    },
)
class ContactVerifyView(ContactsAPIView):
    """The right code makes the contact the person's (and primary, if they
    had none of its kind). Wrong codes are capped as at login."""

    permission_classes = [IsAuthenticated]  # adding it needed the step-up

    def post(self, request: Request) -> Response:
        data = validated(s.ContactVerifyRequest, request)
        contact = contacts.verify_contact(
            request.user,  # type: ignore[arg-type]
            *split_flow(data["flow"]),
            data["code"],
            request=request._request,
            challenge_token=data.get("challenge_token"),
        )
        return Response(contact_reply(contact))


_CONTACT_ID = OpenApiParameter(
    "contact_id", int, OpenApiParameter.PATH, description="The contact's id."
)


@extend_schema(parameters=[_CONTACT_ID])
class ContactView(ContactsAPIView):
    """One contact: make it primary, or remove it."""

    @extend_schema(
        operation_id="api_auth_contacts_make_primary",
        summary="Make a verified contact primary",
        request=None,
        responses={
            200: s.ContactReply,
            **errors_for(
                "MakePrimary",
                {Failure.NOT_FOUND},
                body=False,
                signed_in=True,
                step_up=True,
            ),
        },
    )
    def post(self, request: Request, contact_id: str) -> Response:
        contact = contacts.make_primary(request.user, contact_id)  # type: ignore[arg-type]
        return Response(contact_reply(contact))

    @extend_schema(
        summary="Remove a contact (it can no longer log in)",
        responses={
            204: None,
            **errors_for(
                "RemoveContact",
                {Failure.NOT_FOUND},
                body=False,
                signed_in=True,
                step_up=True,
            ),
        },
    )
    def delete(self, request: Request, contact_id: str) -> Response:
        contacts.remove_contact(request.user, contact_id)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
