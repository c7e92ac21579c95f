"""Delivering a code the site made itself: kod.mobi's manual flow.

Here the caller owns the code: it generates it, keeps it, checks it
(django-two-factor-auth's phone method, allauth's phone codes, a device of
your own). kod.mobi only delivers it, and later says whether it arrived:
by a callback to :class:`~django_kodmobi.views.ManualCallbackView`, or when
asked with :func:`refresh_delivery`.

Each delivery is a :class:`~django_kodmobi.models.ManualDelivery` row (no
code in it) and counts against the same send limits as a login code.
"""

from __future__ import annotations

import re

from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock, guards, limits, signals
from django_kodmobi.client import (
    KodMobiChannelError,
    KodMobiError,
    ManualChannel,
    ManualSendResult,
)
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import (
    FINAL_DELIVERY_STATUSES,
    DeliveryStatus,
    IdentifierKind,
    ManualDelivery,
    OTPSession,
    Status,
)
from django_kodmobi.provider import kodmobi_language
from django_kodmobi.users import Identifier, normalize_identifier

from . import upstream
from .flows import hash_token, new_token

__all__ = [
    "MANUAL_CODE",
    "manual_channels",
    "record_delivery",
    "refresh_delivery",
    "send_code",
]

#: What kod.mobi's manual flow delivers: 4 to 6 digits.
MANUAL_CODE = re.compile(r"[0-9]{4,6}")
#: Messengers to try for a phone before SMS, in kod.mobi's preferred order.
_MESSENGERS = ("telegram", "whatsapp")
_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
}


@sensitive_variables("code", "token")
def send_code(
    to: str,
    code: str,
    *,
    channel: str | None = None,
    purpose: str = "manual",
) -> ManualDelivery:
    """Have kod.mobi deliver ``code`` to the phone or email ``to``.

    Without ``channel``, the code goes to the person's messenger when they
    have one (the one their last right login code came on, then the
    project's messengers in turn) and otherwise by SMS; an address gets
    email. kod.mobi says when a person is not on a messenger, and the next
    channel is tried.

    :raises ValueError: ``code`` is not 4 to 6 digits (kod.mobi delivers
        nothing else; allauth's default phone code is 8 letters).
    :raises VerificationError: ``invalid_identifier``, ``channel_unavailable``,
        ``rate_limited`` or ``kodmobi_unavailable``.
    """
    if not isinstance(code, str) or not MANUAL_CODE.fullmatch(code):
        raise ValueError("kod.mobi's manual flow delivers codes of 4 to 6 digits")
    identifier = normalize_identifier(to)
    channels = _channels_for(identifier, channel)
    counted = guards.canonical_for_limits(identifier.value, identifier.kind)
    limits.check_rates([("sends_per_identifier", counted), ("sends_global", "site")])
    token = new_token()
    delivery = ManualDelivery.objects.create(
        identifier=identifier.value,
        identifier_kind=identifier.kind,
        channel=channels[0],
        purpose=purpose[:32],
        callback_token_hash=hash_token(token) if settings.CALLBACK_BASE_URL else "",
    )
    callback_url = _callback_url(delivery, token)
    for index, chosen in enumerate(channels):
        try:
            result = _deliver(identifier.value, chosen, code, callback_url)
        except KodMobiError as exc:
            if isinstance(exc, KodMobiChannelError) and index + 1 < len(channels):
                continue  # not on this messenger: the next channel
            record_delivery(
                delivery,
                DeliveryStatus.FAILED,
                upstream.error_code(exc),
                channel=chosen,
            )
            raise upstream.failure_for(exc) from exc
        ManualDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT,
            channel=chosen,
            kodmobi_message_id=result.message_id,
            updated_at=clock.now(),
        )
        delivery.refresh_from_db()
        return delivery
    raise AssertionError("unreachable")  # pragma: no cover - channels is not empty


def _channels_for(identifier: Identifier, channel: str | None) -> list[str]:
    """The channels to try, in order, each one allowed for ``identifier``."""
    if channel is not None:
        guards.check_destination(identifier.value, identifier.kind, channel)
        return [channel]
    if identifier.kind is IdentifierKind.EMAIL:
        return ["email"]
    wanted = [_last_messenger(identifier.value), *_MESSENGERS, "sms"]
    allowed = []
    for candidate in dict.fromkeys(c for c in wanted if c):
        try:
            guards.check_destination(identifier.value, identifier.kind, candidate)
        except VerificationError:
            continue  # SMS or WhatsApp outside SMS_COUNTRIES
        allowed.append(candidate)
    if not allowed:
        raise VerificationError(Failure.CHANNEL_UNAVAILABLE)
    return allowed


def _last_messenger(value: str) -> str:
    """The messenger the person's last right login code came on, if any."""
    channel = (
        OTPSession.objects.filter(
            identifier=value,
            status__in=(Status.VERIFIED, Status.CONSUMED),
            channel__in=_MESSENGERS,
        )
        .order_by("-created_at")
        .values_list("channel", flat=True)
        .first()
    )
    return channel or ""


@sensitive_variables("token")
def _callback_url(delivery: ManualDelivery, token: str) -> str | None:
    base = settings.CALLBACK_BASE_URL
    if not base:
        return None
    path = reverse("kodmobi:manual_callback", args=[delivery.pk, token])
    return f"{base}{path}"


@sensitive_variables("code")
def _deliver(
    to: str, channel: str, code: str, callback_url: str | None
) -> ManualSendResult:
    return upstream.call(
        lambda kodmobi: kodmobi.manual_send(
            to,
            channel,
            code=code,
            callback_url=callback_url,
            language=kodmobi_language(),
        )
    )


def record_delivery(
    delivery: ManualDelivery,
    status: DeliveryStatus,
    error: str = "",
    *,
    channel: str | None = None,
) -> bool:
    """Move ``delivery`` to a final ``status``, once; return whether this
    call did (a second callback changes nothing)."""
    now = clock.now()
    values = {
        "status": status,
        "error": error[:64],
        "finished_at": now,
        "updated_at": now,
    }
    if channel is not None:
        values["channel"] = channel
    changed = bool(
        ManualDelivery.objects.filter(pk=delivery.pk)
        .exclude(status__in=FINAL_DELIVERY_STATUSES)
        .update(**values)
    )
    delivery.refresh_from_db()
    if changed:
        signals.code_delivery_finished.send(sender=ManualDelivery, delivery=delivery)
    return changed


def refresh_delivery(delivery: ManualDelivery) -> ManualDelivery:
    """Ask kod.mobi how ``delivery`` went and record a final answer.

    :raises VerificationError: ``kodmobi_unavailable``.
    """
    if delivery.is_final or delivery.kodmobi_message_id is None:
        return delivery
    message_id = delivery.kodmobi_message_id
    try:
        message = upstream.call(lambda kodmobi: kodmobi.manual_message(message_id))
    except KodMobiError as exc:
        raise upstream.failure_for(exc) from exc
    status = _STATUSES.get(str(message.status))
    if status is not None:
        record_delivery(delivery, status, str(message.error or ""))
    return delivery


def manual_channels() -> tuple[ManualChannel, ...]:
    """The project's manual-flow channels and their providers.

    :raises VerificationError: ``kodmobi_unavailable``.
    """
    try:
        return upstream.call(lambda kodmobi: kodmobi.manual_channels())
    except KodMobiError as exc:
        raise upstream.failure_for(exc) from exc
