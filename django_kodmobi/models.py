"""The audit trail of every login attempt: OTP sessions and their events.

No code, verify token or key is ever stored: kod.mobi checks the code, and
the flow token that binds a session to a browser is kept only as a hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.lookups import IsNull
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ulid import ULID

from . import clock
from .conf import settings as kodmobi_settings
from .masking import mask_identifier

__all__ = [
    "Contact",
    "DeliveryStatus",
    "EventKind",
    "FailureStreak",
    "IdentifierKind",
    "KodSession",
    "ManualDelivery",
    "OTPEvent",
    "OTPSession",
    "Passkey",
    "PasskeyChallenge",
    "PasskeyEvent",
    "PasskeyEventKind",
    "Purpose",
    "Status",
]


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


#: Checks of a code that flows joining it from other clients never get.
OWN_CHECKS = 2

#: Statuses in which a code may still be checked.
OPEN_STATUSES = (Status.CREATED, Status.SENT)


class Purpose(models.TextChoices):
    LOGIN = "login", _("log in")
    SIGNUP = "signup", _("sign up")
    VERIFY_CONTACT = "verify_contact", _("verify a contact")
    STEP_UP = "step_up", _("step-up confirmation")
    SECOND_FACTOR = "second_factor", _("second factor")


#: Statuses a flow can still move on from (take a code, or log in).
LIVE_STATUSES = (*OPEN_STATUSES, Status.VERIFIED)


class OTPSessionQuerySet(models.QuerySet["OTPSession"]):
    """The state changes that must hold under concurrency.

    Each is one conditional UPDATE: of any number of concurrent callers,
    exactly as many succeed as the rule allows, whatever the database.
    """

    def open(self) -> OTPSessionQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def with_streak_hint(self) -> OTPSessionQuerySet:
        """Annotate ``streak_free``: no failure streak exists for the
        identifier, so the code check need not look them up."""
        streaks = FailureStreak.objects.filter(identifier_key=OuterRef("streak_key"))
        return self.annotate(streak_free=~Exists(streaks))

    def stale(self, now: Any = None) -> OTPSessionQuerySet:
        """Flows past their expiry that could still move on."""
        return self.filter(status__in=LIVE_STATUSES, expires_at__lte=now or clock.now())

    def reserve_attempt(self, session: OTPSession) -> bool:
        """Count one code check on ``session`` before kod.mobi sees it.

        The budget is per kod.mobi session, shared by every flow that landed
        on it, so starting again never buys more guesses at one code. Flows
        that joined a code another client had sent share at most
        ``MAX_ATTEMPTS - OWN_CHECKS`` of its checks: the rest stay with the
        flow that sent it and with the identifier's trusted devices, so a
        stranger who joins somebody's code cannot lock it.
        """
        from .statements import reserve_attempt  # it imports this module

        maximum = kodmobi_settings.MAX_ATTEMPTS
        if not reserve_attempt(
            self.db,
            session,
            now=clock.now(),
            maximum=maximum,
            joined_maximum=max(0, maximum - OWN_CHECKS),
        ):
            return False
        session.attempts += 1
        return True

    def give_back_attempt(self, session: OTPSession) -> None:
        """A reserved check that never reached kod.mobi's answer: uncount it
        (the joined share is left as it is: erring on the safe side)."""
        with transaction.atomic():
            self.filter(pk=session.pk, attempts__gt=0).update(
                attempts=F("attempts") - 1
            )
            KodSession.objects.filter(
                pk=session.kodmobi_session_id, attempts__gt=0
            ).update(attempts=F("attempts") - 1)
        session.attempts = max(0, session.attempts - 1)

    def reserve_resend(self, session: OTPSession) -> bool:
        """Count one resend of an open flow, within ``MAX_RESENDS``."""
        now = clock.now()
        return bool(
            self.filter(
                pk=session.pk,
                status__in=OPEN_STATUSES,
                resends__lt=kodmobi_settings.MAX_RESENDS,
            ).update(resends=F("resends") + 1, updated_at=now)
        )

    def give_back_resend(self, session: OTPSession) -> None:
        """kod.mobi refused to send: that resend did not happen."""
        self.filter(pk=session.pk, resends__gt=0).update(resends=F("resends") - 1)

    def mark_verified(self, session: OTPSession) -> bool:
        """Open → verified, for exactly one caller."""
        now = clock.now()
        if not self.filter(pk=session.pk, status__in=OPEN_STATUSES).update(
            status=Status.VERIFIED, verified_at=now, last_error="", updated_at=now
        ):
            return False
        session.status, session.verified_at, session.last_error = (
            Status.VERIFIED,
            now,
            "",
        )
        return True

    def consume(
        self,
        session: OTPSession,
        user: Any = None,
        *,
        verifying: bool = False,
        contact: Contact | None = None,
        events: Sequence[OTPEvent] = (),
    ) -> bool:
        """Verified and unexpired → consumed, for exactly one caller; with
        ``user``, recorded as the one who logged in, in the same UPDATE.

        ``verifying``: the flow's verification is held, not yet written
        (``hold_verification``), so the flow is still open: open →
        consumed, and the verification written by the same UPDATE.

        ``contact``: the verified contact that named ``user``; the UPDATE
        happens only while it is still verified and theirs.

        ``events``: written with it, if this caller consumed the flow.
        """
        from .statements import consume  # it imports this module

        now = clock.now()
        if not consume(
            self.db,
            session,
            now=now,
            user=user,
            verifying=verifying,
            contact=contact,
            events=events,
        ):
            return False
        session.status, session.consumed_at = Status.CONSUMED, now
        return True

    def lock(self, session: OTPSession, *, this_flow_only: bool = False) -> list[str]:
        """Lock every open flow on ``session``'s kod.mobi session (one code),
        or ``this_flow_only``; return the ids this call locked."""
        flows = self.filter(status__in=OPEN_STATUSES)
        if session.kodmobi_session_id and not this_flow_only:
            flows = flows.filter(kodmobi_session_id=session.kodmobi_session_id)
        else:
            flows = flows.filter(pk=session.pk)
        now = clock.now()
        # One UPDATE per flow (there are rarely two), so that each is
        # reported locked by exactly one caller.
        return [
            pk
            for pk in flows.values_list("pk", flat=True)
            if self.filter(pk=pk, status__in=OPEN_STATUSES).update(
                status=Status.LOCKED, updated_at=now
            )
        ]

    def expire(self, session: OTPSession) -> bool:
        """Open or verified → expired, for exactly one caller."""
        if not self.filter(pk=session.pk, status__in=LIVE_STATUSES).update(
            status=Status.EXPIRED, updated_at=clock.now()
        ):
            return False
        session.status = Status.EXPIRED
        return True


class VerifiedContactJoin(models.ForeignObject):  # type: ignore[type-arg]
    """The verified :class:`Contact` holding a flow's identifier, joined on
    the value: no column of its own.

    A login loads its flow and the account behind the code in one SELECT
    (``select_related("verified_contact__user")``) instead of two. Values
    are unique only once verified (the partial ``kodmobi_contact_verified_once``),
    so the join says ``verified_at IS NOT NULL`` itself and matches at most
    one row; Django's check for a unique target does not see partial
    constraints, hence ``requires_unique_target``.
    """

    requires_unique_target = False
    #: No column, so no constraint (SQLite's schema editor asks).
    db_constraint = False

    def get_extra_restriction(self, alias: str, related_alias: str) -> IsNull:
        verified_at = cast("models.DateTimeField[Any, Any]", Contact.verified_at.field)
        return IsNull(verified_at.get_col(alias), False)

    def get_extra_descriptor_filter(self, instance: models.Model) -> dict[str, Any]:
        return {"verified_at__isnull": False}

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        # Lists on every Django (4.2 gives tuples), so migrations agree.
        for key in ("from_fields", "to_fields"):
            kwargs[key] = list(kwargs[key])
        return name, path, args, kwargs


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
    #: Who the identifier belongs to by a verified contact, if anyone:
    #: joined when the flow is loaded (no column).
    verified_contact = VerifiedContactJoin(  # type: ignore[misc]
        "Contact",
        on_delete=models.DO_NOTHING,
        from_fields=["identifier"],
        to_fields=["value"],
        related_name="+",
        null=True,
        editable=False,
    )
    flow_token_hash = models.CharField(
        _("flow token hash"), max_length=64, editable=False
    )
    #: The keyed hash the identifier's failure streaks are filed under
    #: (``guards.streak_key``): loading a flow tells at once whether any
    #: exist. Empty on rows from before 0006: those are always looked up.
    streak_key = models.CharField(
        _("streak key"), max_length=64, blank=True, default="", editable=False
    )
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=255, blank=True)
    #: The keyed hash of the trusted device the flow was started from
    #: (``devices``); empty for a client the identifier does not trust.
    device_key = models.CharField(
        _("trusted device"),
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text=_("Set when the flow came from a device trusted for it."),
    )
    #: A login started for a phone or email with no account
    #: (``UNKNOWN_IDENTIFIERS = "silent"``): nothing was sent, kod.mobi is
    #: never asked, and every code is refused as a wrong one.
    silent = models.BooleanField(
        _("unknown identifier"),
        default=False,
        editable=False,
        help_text=_("No account: nothing was sent and no code can log in."),
    )
    last_error = models.CharField(_("last error"), max_length=64, blank=True)
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, editable=False
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    sent_at = models.DateTimeField(
        _("sent at"), null=True, blank=True, help_text=_("When the code went last.")
    )
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
        return self.expires_at <= (now or clock.now())

    @property
    def attempts_left(self) -> int:
        """Checks this flow may still make (the shared budget may end first)."""
        return max(0, kodmobi_settings.MAX_ATTEMPTS - self.attempts)

    @property
    def resends_left(self) -> int:
        return max(0, kodmobi_settings.MAX_RESENDS - self.resends)


class KodSession(models.Model):
    """One kod.mobi session, shared by every flow that landed on it.

    kod.mobi hands back the live session of a destination instead of a new
    one, so two flows can check the same code: the attempt budget lives
    here, once per code, not once per flow.
    """

    id = models.CharField(_("kod.mobi session"), primary_key=True, max_length=32)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    #: Checks that ended without success (wrong codes, failed calls):
    #: ``attempts`` above it are checks still in flight.
    failures = models.PositiveSmallIntegerField(_("failed checks"), default=0)
    #: The flow whose start opened this session (sent its code), which keeps
    #: a share of the checks that flows joining it cannot use up.
    origin = models.CharField(_("first flow"), max_length=26, blank=True)
    #: Checks made by flows that joined this code, neither its first flow
    #: nor from a trusted device.
    joined_attempts = models.PositiveSmallIntegerField(
        _("checks by joined flows"), default=0
    )
    #: When the last check was reserved (a check in flight for longer than a
    #: kod.mobi deadline has died with its worker).
    checked_at = models.DateTimeField(_("last check"), null=True, blank=True)
    #: The channel the code went to first, for flows that join later.
    channel = models.CharField(_("channel"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("kod.mobi session")
        verbose_name_plural = _("kod.mobi sessions")
        indexes = [models.Index(fields=["created_at"], name="kodmobi_kod_created")]

    def __str__(self) -> str:
        return self.id


class FailureStreak(models.Model):
    """Wrong codes in a row for an identifier, or an identifier from one IP.

    Keys are keyed hashes: the table holds no phone, email or address.
    A successful login deletes every streak of its identifier.
    """

    key = models.CharField(primary_key=True, max_length=64)
    identifier_key = models.CharField(max_length=64, db_index=True)
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("failure streak")
        verbose_name_plural = _("failure streaks")

    def __str__(self) -> str:
        return f"{self.failures} failures"


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
        # The (session, at) index serves every lookup by session; one more
        # would only slow each INSERT.
        db_index=False,
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
            models.Index(fields=["session", "at"], name="kodmobi_event_session_at"),
            # The event list and the charts read a time range across sessions.
            models.Index(fields=["at"], name="kodmobi_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class DeliveryStatus(models.TextChoices):
    #: kod.mobi has not accepted it (yet).
    CREATED = "created", _("created")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


#: Statuses a delivery never leaves.
FINAL_DELIVERY_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


class ManualDelivery(models.Model):
    """A code the site made itself, delivered by kod.mobi's manual flow.

    The code is not kept (the caller checks it); the callback token that
    lets kod.mobi report delivery is kept only as a hash.
    """

    id = models.CharField(
        _("ID"), primary_key=True, max_length=26, default=new_ulid, editable=False
    )
    kodmobi_message_id = models.BigIntegerField(
        _("kod.mobi message"), null=True, blank=True
    )
    identifier = models.CharField(_("identifier"), max_length=254)
    identifier_kind = models.CharField(
        _("identifier kind"), max_length=8, choices=IdentifierKind.choices
    )
    channel = models.CharField(_("channel"), max_length=16)
    #: Who asked: "two_factor", "allauth", "otp_device" or the site's own word.
    purpose = models.CharField(_("purpose"), max_length=32, default="manual")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.CREATED,
    )
    error = models.CharField(_("error"), max_length=64, blank=True)
    callback_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    #: When kod.mobi reported the final status.
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("manual delivery")
        verbose_name_plural = _("manual deliveries")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="kodmobi_delivery_created"),
            models.Index(
                fields=["identifier", "-created_at"], name="kodmobi_delivery_ident"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.masked_identifier})"

    @property
    def masked_identifier(self) -> str:
        return mask_identifier(self.identifier)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_DELIVERY_STATUSES


class ContactQuerySet(models.QuerySet["Contact"]):
    def verified(self) -> ContactQuerySet:
        return self.filter(verified_at__isnull=False)


class Contact(models.Model):
    """A phone number or email address of a user, proven by a code.

    A verified value belongs to one user: the login looks it up here first,
    through a unique index. A removed contact keeps its row, unverified and
    marked removed, so the user fields cannot bring it back as a login.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="kodmobi_contacts",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=IdentifierKind.choices)
    value = models.CharField(
        _("phone or email"),
        max_length=254,
        help_text=_("E.164 phone number or case-folded email address."),
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    primary = models.BooleanField(
        _("primary"), default=False, help_text=_("Where step-up codes go.")
    )
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["kind", "-primary", "value"]
        constraints = [
            # The login lookup: one indexed query, one owner per value.
            models.UniqueConstraint(
                fields=["value"],
                condition=models.Q(verified_at__isnull=False),
                name="kodmobi_contact_verified_once",
            ),
            models.UniqueConstraint(
                fields=["user", "value"], name="kodmobi_contact_once_per_user"
            ),
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=models.Q(primary=True),
                name="kodmobi_contact_one_primary",
            ),
        ]

    def __str__(self) -> str:
        return self.masked_value

    @property
    def masked_value(self) -> str:
        return mask_identifier(self.value)

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class Passkey(models.Model):
    """A WebAuthn credential of one user: a login with no message sent.

    Only the public key is kept. The credential id is unique, so a passkey
    belongs to one user whatever an authenticator claims.
    """

    id = models.CharField(
        _("id"), primary_key=True, max_length=26, default=new_ulid, editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="kodmobi_passkeys",
    )
    #: base64url, as WebAuthn's JSON carries it; at most 1,023 bytes raw.
    credential_id = models.CharField(_("credential id"), max_length=1400, unique=True)
    public_key = models.BinaryField(_("public key"))
    sign_count = models.PositiveBigIntegerField(_("sign count"), default=0)
    transports = models.JSONField(_("transports"), default=list, blank=True)
    backed_up = models.BooleanField(_("synced"), default=False)
    name = models.CharField(_("name"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or str(_("passkey"))


class PasskeyChallenge(models.Model):
    """A WebAuthn challenge, good for one ceremony before it expires.

    Keyed by the challenge itself (base64url), which comes back inside the
    browser's signed client data: a ceremony deletes its row, and only the
    one that deletes it goes on.
    """

    challenge = models.CharField(primary_key=True, max_length=64)
    purpose = models.CharField(max_length=8)  # "register" or "login"
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("passkey challenge")
        verbose_name_plural = _("passkey challenges")

    def __str__(self) -> str:
        return f"{self.purpose} challenge until {self.expires_at:%H:%M:%S}"


class PasskeyEventKind(models.TextChoices):
    REGISTERED = "registered", _("passkey created")
    REGISTRATION_REFUSED = "reg_refused", _("passkey refused")
    LOGGED_IN = "logged_in", _("logged in by passkey")
    LOGIN_REFUSED = "login_refused", _("passkey login refused")
    REMOVED = "removed", _("passkey removed")


class PasskeyEvent(models.Model):
    """The audit of passkeys: each creation, login, refusal and removal,
    with its reason. A login by passkey is a message not sent."""

    kind = models.CharField(_("event"), max_length=16, choices=PasskeyEventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    passkey = models.ForeignKey(
        Passkey,
        verbose_name=_("passkey"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    #: Why it was refused (the audit's vocabulary), or what it was.
    detail = models.CharField(_("detail"), max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("passkey event")
        verbose_name_plural = _("passkey events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="kodmobi_passkey_event_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class TrustEnd(models.TextChoices):
    """Why a trusted browser stopped being trusted."""

    FORGOTTEN = "forgotten", _("forgotten by its owner")
    REPLACED = "replaced", _("trusted again")
    LOGGED_OUT_EVERYWHERE = "logout_everywhere", _("logged out everywhere")
    PASSWORD_CHANGED = "password_changed", _("password changed")
    CONTACT_REMOVED = "contact_removed", _("a contact was removed")


class TrustedBrowserQuerySet(models.QuerySet["TrustedBrowser"]):
    def in_force(self) -> TrustedBrowserQuerySet:
        """Trust neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=clock.now())


class TrustedBrowser(models.Model):
    """A browser its owner chose to trust after a code: step-up and the
    second factor are skipped on it until ``expires_at``.

    The browser holds a signed cookie with a random secret; this row holds
    only a hash of it (the primary key), so it can be revoked here and a
    copy of the table logs nobody in.
    """

    id = models.UUIDField(_("id"), primary_key=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    #: A keyed hash of the password hash the trust was given under: a new
    #: password ends it, however the password was set.
    password_digest = models.CharField(max_length=32, editable=False)
    created_at = models.DateTimeField(_("trusted at"), default=timezone.now)
    expires_at = models.DateTimeField(_("trusted until"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_reason = models.CharField(
        _("revoked because"), max_length=20, choices=TrustEnd.choices, blank=True
    )

    objects = TrustedBrowserQuerySet.as_manager()

    class Meta:
        verbose_name = _("trusted browser")
        verbose_name_plural = _("trusted browsers")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="kodmobi_trust_expires")]

    def __str__(self) -> str:
        return f"trusted until {self.expires_at:%Y-%m-%d %H:%M}"
