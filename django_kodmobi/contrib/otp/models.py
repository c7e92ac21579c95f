"""The django-otp device on kod.mobi."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device, DeviceManager, ThrottlingMixin, TimestampMixin

from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import Contact, OTPSession, Purpose
from django_kodmobi.services import ClientInfo, channel_name, start_login
from django_kodmobi.services.verify import check_code

__all__ = ["ChallengeError", "KodmobiDevice"]


class ChallengeError(Exception):
    """No code could be sent. django-otp's forms show the text to the
    person ("Error generating challenge: ..."), so it never holds more than
    the reason they may be told."""


class KodmobiDeviceQuerySet(models.QuerySet["KodmobiDevice"]):
    def for_contact(self, contact: Contact, **fields: Any) -> KodmobiDevice:
        """A confirmed device for a verified ``contact``, made once.

        :raises ValueError: the contact is not verified (a code to an
            unproven number would prove nothing).
        """
        if not contact.is_verified:
            raise ValueError("a kod.mobi device needs a verified contact")
        device, _ = self.get_or_create(
            user_id=contact.user_id,
            contact=contact,
            defaults={"name": contact.masked_value, **fields},
        )
        return device


class KodmobiDevice(TimestampMixin, ThrottlingMixin, Device):
    """A second factor: a code from kod.mobi to one of the user's verified
    phones or emails.

    :meth:`generate_challenge` starts a kod.mobi session (purpose
    ``second_factor`` in the audit) and keeps it as the pending challenge;
    :meth:`verify_token` checks a code against it, once. A contact that is
    removed or no longer verified stops the device.
    """

    contact: models.ForeignKey[Contact, Contact] = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    challenge: models.ForeignKey[OTPSession | None, OTPSession | None] = (
        models.ForeignKey(
            OTPSession,
            verbose_name=_("pending code"),
            null=True,
            blank=True,
            on_delete=models.SET_NULL,
            related_name="+",
            help_text=_("The kod.mobi session of the last code sent."),
        )
    )

    objects = DeviceManager.from_queryset(KodmobiDeviceQuerySet)()

    class Meta(Device.Meta):
        verbose_name = _("kod.mobi device")
        verbose_name_plural = _("kod.mobi devices")

    def get_throttle_factor(self) -> int:
        return settings.OTP_THROTTLE_FACTOR

    def is_usable(self) -> bool:
        """Its contact is still this user's and verified."""
        return self._usable_contact() is not None

    def _usable_contact(self) -> Contact | None:
        contact = self.contact
        usable = contact.is_verified and contact.user_id == self.user_id
        return contact if usable else None

    def generate_challenge(self) -> str:
        """Send a code; return what the person is told (no code in it).

        :raises ChallengeError: the contact is gone, or kod.mobi cannot send
            now (too soon, rate limited, unavailable); the text says which.
        """
        contact = self._usable_contact()
        if contact is None:
            raise ChallengeError(gettext("This contact is no longer verified."))
        try:
            # The device asks for its own user: that user's send budget and
            # limits, not one bucket for every device of the site.
            flow = start_login(
                contact.value,
                purpose=Purpose.SECOND_FACTOR,
                client=ClientInfo(user_pk=self.user_id),
            )
        except VerificationError as exc:
            raise ChallengeError(exc.message) from exc
        OTPSession.objects.filter(pk=flow.session.pk).update(user_id=self.user_id)
        self.challenge = flow.session
        self.save(update_fields=["challenge"])
        return gettext("Code sent by %(channel)s to %(destination)s.") % {
            "channel": channel_name(flow.session.channel),
            "destination": mask_for_display(contact.value),
        }

    @sensitive_variables("token")
    def verify_token(self, token: Any) -> bool:
        """Check ``token`` against the pending code; on success the code is
        used up. Throttled (``OTP_THROTTLE_FACTOR``) on top of the login's
        own caps."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        session = self.challenge
        if (
            session is None
            or self._usable_contact() is None
            or session.purpose != Purpose.SECOND_FACTOR
            or session.user_id != self.user_id
        ):
            return False
        try:
            check_code(session, str(token))
        except VerificationError as exc:
            if exc.reason is not Failure.ALREADY_USED:  # a parallel check won
                self._count_failure()
            return False
        if not OTPSession.objects.consume(session):
            return False  # a parallel check used it first
        self.challenge = None
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save(
            update_fields=[
                "challenge",
                "throttling_failure_count",
                "throttling_failure_timestamp",
                "last_used_at",
            ]
        )
        return True

    def _count_failure(self) -> None:
        """django-otp's ``throttle_increment`` as one UPDATE, so wrong codes
        checked in parallel all count (a saved copy would count one)."""
        type(self).objects.filter(pk=self.pk).update(
            throttling_failure_count=F("throttling_failure_count") + 1,
            throttling_failure_timestamp=timezone.now(),
        )
        self.refresh_from_db(
            fields=["throttling_failure_count", "throttling_failure_timestamp"]
        )
