"""The audit trail of every login attempt: OTP sessions and their events.

No code, verify token or key is ever stored: kod.mobi checks the code, and
the flow token that binds a session to a browser is kept only as a hash.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ulid import ULID

from .conf import settings as kodmobi_settings
from .masking import mask_identifier

__all__ = ["EventKind", "IdentifierKind", "OTPEvent", "OTPSession", "Purpose", "Status"]


def new_ulid() -> str:
    return str(ULID())


class IdentifierKind(models.TextChoices):
    PHONE = "phone", _("phone number")
    EMAIL = "email", _("email address")


class Status(models.TextChoices):
    #: The row exists; kod.mobi has not (yet) sent a code.
    CREATED = "created", _("created")
    SENT = "sent", _("code sent")
    #: The right code was entered and kod.mobi confirmed the destination.
    VERIFIED = "verified", _("verified")
    #: Used to log in; can never be used again.
    CONSUMED = "consumed", _("consumed")
    EXPIRED = "expired", _("expired")
    LOCKED = "locked", _("locked")
    FAILED = "failed", _("failed")


#: Statuses in which a code may still be checked.
OPEN_STATUSES = (Status.CREATED, Status.SENT)


class Purpose(models.TextChoices):
    LOGIN = "login", _("log in")
    SIGNUP = "signup", _("sign up")
    VERIFY_CONTACT = "verify_contact", _("verify a contact")
    STEP_UP = "step_up", _("step-up confirmation")


class OTPSessionQuerySet(models.QuerySet["OTPSession"]):
    def open(self) -> OTPSessionQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def stale(self, now: Any = None) -> OTPSessionQuerySet:
        """Open sessions whose expiry has passed."""
        return self.open().filter(expires_at__lte=now or timezone.now())


class OTPSession(models.Model):
    id = models.CharField(
        _("ID"),
        primary_key=True,
        max_length=26,
        default=new_ulid,
        editable=False,
        help_text=_("A ULID; the opaque reference the browser holds."),
    )
    kodmobi_session_id = models.CharField(
        _("kod.mobi session"),
        max_length=32,
        blank=True,
        default="",
        help_text=_("The ULID kod.mobi gave the session."),
    )
    identifier = models.CharField(
        _("identifier"),
        max_length=254,
        help_text=_("E.164 phone number or case-folded email address."),
    )
    identifier_kind = models.CharField(
        _("identifier kind"), max_length=8, choices=IdentifierKind.choices
    )
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.LOGIN
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.CREATED
    )
    channel = models.CharField(
        _("channel"),
        max_length=16,
        blank=True,
        help_text=_("Where the code went last."),
    )
    channels_offered = models.JSONField(
        _("channels offered"),
        default=list,
        blank=True,
        help_text=_("The channel types kod.mobi offered, with their state."),
    )
    channel_cooldowns = models.JSONField(
        _("channel cooldowns"),
        default=dict,
        blank=True,
        help_text=_("Per channel, when it may send again (epoch seconds)."),
    )
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Codes checked, right or wrong.")
    )
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    resends = models.PositiveSmallIntegerField(_("resends"), default=0)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    flow_token_hash = models.CharField(
        _("flow token hash"), max_length=64, editable=False
    )
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    last_error = models.CharField(_("last error"), max_length=64, blank=True)
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    consumed_at = models.DateTimeField(_("consumed at"), null=True, blank=True)

    objects = OTPSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("OTP session")
        verbose_name_plural = _("OTP sessions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["identifier", "-created_at"], name="kodmobi_ident_created"
            ),
            models.Index(fields=["kodmobi_session_id"], name="kodmobi_kod_session"),
            models.Index(
                fields=["status", "expires_at"], name="kodmobi_status_expires"
            ),
            models.Index(fields=["created_at"], name="kodmobi_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.masked_identifier})"

    @property
    def masked_identifier(self) -> str:
        return mask_identifier(self.identifier)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_expired(self, now: Any = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    @property
    def attempts_left(self) -> int:
        return max(0, kodmobi_settings.MAX_ATTEMPTS - self.attempts)


class EventKind(models.TextChoices):
    CREATED = "created", _("created")
    SENT = "sent", _("code sent")
    RESENT = "resent", _("code sent again")
    SEND_FAILED = "send_failed", _("sending failed")
    CODE_REJECTED = "code_rejected", _("wrong code")
    VERIFIED = "verified", _("verified")
    LOGGED_IN = "logged_in", _("logged in")
    LOGIN_REFUSED = "login_refused", _("login refused")
    SIGNED_UP = "signed_up", _("signed up")
    EXPIRED = "expired", _("expired")
    LOCKED = "locked", _("locked")
    FAILED = "failed", _("failed")


class OTPEvent(models.Model):
    session = models.ForeignKey(
        OTPSession,
        verbose_name=_("OTP session"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    kind = models.CharField(_("event"), max_length=16, choices=EventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    #: A short, non-secret note: a sys_message, a reason, a count.
    detail = models.CharField(_("detail"), max_length=128, blank=True)

    class Meta:
        verbose_name = _("OTP event")
        verbose_name_plural = _("OTP events")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["session", "at"], name="kodmobi_event_session_at")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"
