"""Request and reply shapes of the REST API (also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_kodmobi.client import Channel

CHANNEL_CHOICES = [channel.value for channel in Channel]


class FlowField(serializers.CharField):
    """The opaque ``flow`` reference returned by *start*: keep it secret."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 128)
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault(
            "help_text", _("The flow reference returned by start. Keep it secret.")
        )
        super().__init__(**kwargs)


class StartRequest(serializers.Serializer[Any]):
    identifier = serializers.CharField(
        min_length=1,
        max_length=254,
        help_text=_("A phone number (E.164 or national) or an email."),
    )
    channel = serializers.ChoiceField(
        choices=CHANNEL_CHOICES,
        required=False,
        help_text=_("Send through this channel; without it kod.mobi picks the best."),
    )
    send = serializers.BooleanField(default=True)
    challenge_token = serializers.CharField(max_length=4096, required=False)


class ResendRequest(serializers.Serializer[Any]):
    flow = FlowField()
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    challenge_token = serializers.CharField(max_length=4096, required=False)


class VerifyRequest(serializers.Serializer[Any]):
    flow = FlowField()
    code = serializers.CharField(min_length=1, max_length=32, trim_whitespace=True)
    challenge_token = serializers.CharField(max_length=4096, required=False)


class CompleteRequest(serializers.Serializer[Any]):
    flow = FlowField()
    verify_token = serializers.CharField(
        min_length=1,
        max_length=512,
        help_text=_("The verify_token the kod.mobi browser SDK got."),
    )


class ChannelReply(serializers.Serializer[Any]):
    type = serializers.CharField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    timeout = serializers.IntegerField(help_text=_("Seconds before it may send again."))
    image_url = serializers.CharField(allow_blank=True)
    link = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)


class FlowReply(serializers.Serializer[Any]):
    flow = serializers.CharField(
        required=False, help_text=_("Only in the reply to start.")
    )
    status = serializers.CharField()
    destination = serializers.CharField(help_text=_("Masked: +7 ••• ••• 45 67."))
    channel = serializers.CharField(allow_blank=True)
    expires_at = serializers.DateTimeField()
    attempts_left = serializers.IntegerField()
    resends_left = serializers.IntegerField()
    code_length = serializers.IntegerField()
    channels = ChannelReply(many=True)
    kodmobi_session_id = serializers.CharField(
        required=False,
        help_text=_("With BROWSER_SDK: the kod.mobi session the browser SDK uses."),
    )


class UserReply(serializers.Serializer[Any]):
    id = serializers.CharField()
    username = serializers.CharField()


class LoginReply(serializers.Serializer[Any]):
    status = serializers.CharField()
    user = UserReply()
    token = serializers.CharField(
        required=False, help_text=_("With API_LOGIN 'token'.")
    )
    access = serializers.CharField(required=False, help_text=_("With API_LOGIN 'jwt'."))
    refresh = serializers.CharField(
        required=False, help_text=_("With API_LOGIN 'jwt'.")
    )


class ErrorReply(serializers.Serializer[Any]):
    code = serializers.CharField(
        help_text=_(
            "Stable: invalid, invalid_identifier, channel_unavailable, "
            "resend_too_soon, too_many_resends, challenge_failed, invalid_code, "
            "expired, locked, already_used, not_found, destination_mismatch, "
            "too_many_failures, login_not_allowed, kodmobi_unavailable, "
            "rate_limited, csrf_failed, request_too_large."
        )
    )
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(required=False)
    attempts_left = serializers.IntegerField(required=False)
    field_errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
