"""Request and reply shapes of the REST API (also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_kodmobi.client import Channel
from django_kodmobi.services.verify import MAX_CODE_INPUT

CHANNEL_CHOICES = [channel.value for channel in Channel]


#: What DRF refuses in any text field, said in the schema too.
_NO_NUL = RegexValidator(r"^[^\x00]*$", _("Null characters are not allowed."))
#: CAPTCHA tokens travel on to kod.mobi in a header: visible ASCII only.
_VISIBLE_ASCII = RegexValidator(r"^[!-~]*$", _("Only visible ASCII characters."))


class InputText(serializers.CharField):
    """A text input as the services take it: at least one character, no NUL,
    not trimmed (the services normalise what they read, so a value of only
    spaces is refused for what it is, not as a missing field)."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("validators", [_NO_NUL])
        super().__init__(max_length=max_length, **kwargs)


def flow_field() -> InputText:
    """The opaque ``flow`` reference returned by *start*: keep it secret."""
    return InputText(
        128, help_text=_("The flow reference returned by start. Keep it secret.")
    )


def device_token_field() -> InputText:
    return InputText(
        2048,
        required=False,
        help_text=_(
            "The device_token of this app's last login, if any: a device "
            "that logged in as this phone or email before keeps its own limits."
        ),
    )


def challenge_field() -> InputText:
    return InputText(
        4096,
        required=False,
        validators=[_VISIBLE_ASCII],
        help_text=_("The CAPTCHA response, when the kod.mobi project asks for one."),
    )


class StartRequest(serializers.Serializer[Any]):
    identifier = InputText(
        254, help_text=_("A phone number (E.164 or national) or an email.")
    )
    channel = serializers.ChoiceField(
        choices=CHANNEL_CHOICES,
        required=False,
        help_text=_("Send through this channel; without it kod.mobi picks the best."),
    )
    send = serializers.BooleanField(default=True)
    challenge_token = challenge_field()
    device_token = device_token_field()


class ResendRequest(serializers.Serializer[Any]):
    flow = flow_field()
    channel = serializers.ChoiceField(choices=CHANNEL_CHOICES)
    challenge_token = challenge_field()


class VerifyRequest(serializers.Serializer[Any]):
    flow = flow_field()
    code = InputText(
        MAX_CODE_INPUT,
        help_text=_(
            "The code as typed or pasted: spaces and punctuation are dropped, "
            "and a pasted message line gives the code in it."
        ),
    )
    challenge_token = challenge_field()
    device_token = device_token_field()


class StepUpVerifyRequest(VerifyRequest):
    trust_browser = serializers.BooleanField(
        default=False,
        help_text=_(
            "Browser mode: trust this browser for TRUST_BROWSER_DAYS (cookie "
            "kodmobi_trust), so step-up skips the code on it. Ignored with a "
            "token in Authorization, or with TRUST_BROWSER_DAYS 0."
        ),
    )


class CompleteRequest(serializers.Serializer[Any]):
    flow = flow_field()
    verify_token = InputText(
        512, help_text=_("The verify_token the kod.mobi browser SDK got.")
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


def _user_id_field() -> serializers.Field[Any, Any, Any, Any]:
    """The user's id as the user model's primary key types it."""
    pk = get_user_model()._meta.pk
    if isinstance(pk, (models.AutoField, models.IntegerField)):
        return serializers.IntegerField()
    return serializers.CharField()


class UserReply(serializers.Serializer[Any]):
    id = _user_id_field()
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
    device_token = serializers.CharField(
        required=False,
        help_text=_(
            "After a login by code: keep it and send it with the next start "
            "and verify, so this device keeps its own limits."
        ),
    )


class ErrorReply(serializers.Serializer[Any]):
    code = serializers.CharField(
        help_text=_(
            "Stable: invalid, invalid_identifier, channel_unavailable, "
            "resend_too_soon, too_many_resends, challenge_failed, invalid_code, "
            "expired, locked, already_used, not_found, destination_mismatch, "
            "too_many_failures, login_not_allowed, kodmobi_unavailable, "
            "sending_unavailable, unavailable, rate_limited, csrf_failed, "
            "request_too_large, "
            "not_authenticated, authentication_failed, step_up_required, "
            "contact_exists, contact_unavailable."
        )
    )
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(required=False)
    attempts_left = serializers.IntegerField(required=False)
    field_errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ConfigReply(serializers.Serializer[Any]):
    identifiers = serializers.ListField(
        child=serializers.ChoiceField(choices=["phone", "email"]),
        help_text=_("What a person may log in with."),
    )
    code_length = serializers.IntegerField()
    channels = ChannelReply(
        many=True, help_text=_("The project's channels; empty while kod.mobi is down.")
    )
    browser_sdk = serializers.BooleanField(
        help_text=_("Whether complete/ takes verify tokens from the kod.mobi SDK.")
    )
    login_mode = serializers.ChoiceField(
        choices=["session", "token", "jwt", "custom"],
        help_text=_("What a login returns: a session cookie, or tokens."),
    )
    csrf_header = serializers.CharField(
        help_text=_("The header that carries the CSRF token in session mode.")
    )


class SessionReply(serializers.Serializer[Any]):
    authenticated = serializers.BooleanField()
    user = UserReply(allow_null=True)


class ContactRequest(serializers.Serializer[Any]):
    identifier = InputText(254, help_text=_("The phone number or email to add."))
    channel = serializers.ChoiceField(
        choices=CHANNEL_CHOICES,
        required=False,
        help_text=_("Send the code through this channel."),
    )
    challenge_token = challenge_field()


class ContactVerifyRequest(VerifyRequest):
    """The flow from adding the contact, and the code sent to it."""


class ContactReply(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["phone", "email"])
    destination = serializers.CharField(help_text=_("Masked: +7 ••• ••• 45 67."))
    verified = serializers.BooleanField()
    primary = serializers.BooleanField()


class StepUpRequest(serializers.Serializer[Any]):
    challenge_token = challenge_field()


class PasskeyCredentialRequest(serializers.Serializer[Any]):
    """What ``navigator.credentials.create()`` or ``.get()`` returned, as
    JSON (``PublicKeyCredential.toJSON()``)."""

    credential = serializers.DictField(
        help_text=_("The credential's JSON: id, rawId, type and response.")
    )


class PasskeyOptionsReply(serializers.Serializer[Any]):
    publicKey = serializers.DictField(  # noqa: N815 - WebAuthn's own name
        help_text=_(
            "The options for navigator.credentials.create() or .get(), in "
            "WebAuthn's JSON form (PublicKeyCredential.parse*OptionsFromJSON)."
        )
    )


class PasskeyReply(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField(help_text=_("The browser and system it was made on."))
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    synced = serializers.BooleanField(
        help_text=_(
            "Backed up to the person's cloud account (usable on their other devices)."
        )
    )
