"""django-two-factor-auth: its phone codes delivered by kod.mobi.

two-factor's phone method makes its own code (a TOTP of the device's key)
and checks it itself; kod.mobi only delivers it through the manual flow, on
the person's messenger when they have one, else by SMS. Set::

    TWO_FACTOR_SMS_GATEWAY = "django_kodmobi.contrib.two_factor.KodmobiGateway"

and leave ``TWO_FACTOR_CALL_GATEWAY`` unset: kod.mobi makes no calls. Keep
``TWO_FACTOR_TOTP_DIGITS`` at 6 (kod.mobi delivers 4 to 6 digits); system
checks ``kodmobi.E012`` and ``kodmobi.E013`` say so when it is not.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from django_kodmobi import clock
from django_kodmobi.check_ids import check_id
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.masking import mask_identifier
from django_kodmobi.models import DeliveryStatus, ManualDelivery
from django_kodmobi.services import send_code
from django_kodmobi.users import normalize_identifier

__all__ = ["PURPOSE", "RESEND_AFTER", "KodmobiGateway", "check_gateway"]

logger = logging.getLogger("django_kodmobi.contrib.two_factor")

#: The purpose of these deliveries in the audit.
PURPOSE = "two_factor"
#: two-factor sends a code on every render of its token step (a reload, a
#: back button). A code it sent stays valid for about three minutes (its
#: TOTP accepts five steps of drift), so within this window the one already
#: on its way is enough, as kod.mobi's own resend timeout has it.
RESEND_AFTER = timedelta(seconds=60)


class KodmobiGateway:
    """A ``TWO_FACTOR_SMS_GATEWAY``: delivers the code through kod.mobi.

    two-factor calls it while rendering a page and does not catch errors,
    so a delivery kod.mobi refuses (rate limited, unavailable, no channel
    for the number) is logged, with the number masked, not raised: the
    person sees the code form and can ask again or use a backup token.
    """

    @sensitive_variables("token")
    def send_sms(self, device: Any, token: Any) -> None:
        to = str(device.number.as_e164)
        if _sent_recently(to):
            return
        try:
            send_code(to, str(token), purpose=PURPOSE)
        except VerificationError as exc:
            logger.warning(
                "kod.mobi did not deliver a two-factor code to %s: %s",
                mask_identifier(to),
                exc.reason.value,
            )

    def make_call(self, device: Any, token: Any) -> None:
        raise ImproperlyConfigured(
            "kod.mobi makes no calls: leave TWO_FACTOR_CALL_GATEWAY unset."
        )


def _sent_recently(to: str) -> bool:
    """A code of this kind went to ``to`` within :data:`RESEND_AFTER` (and
    did not fail)."""
    try:
        value = normalize_identifier(to).value
    except VerificationError:
        return False  # send_code refuses it and says why
    return (
        ManualDelivery.objects.filter(
            identifier=value,
            purpose=PURPOSE,
            created_at__gt=clock.now() - RESEND_AFTER,
        )
        .exclude(status=DeliveryStatus.FAILED)
        .exists()
    )


def _is_ours(setting: str) -> bool:
    path = getattr(django_settings, setting, None)
    if not path:
        return False
    try:
        gateway = import_string(path)
    except ImportError:
        return False  # two-factor reports its own broken setting
    return isinstance(gateway, type) and issubclass(gateway, KodmobiGateway)


def check_gateway(**kwargs: Any) -> list[CheckMessage]:
    """kodmobi.E012 / E013: two-factor set up for what kod.mobi delivers."""
    messages: list[CheckMessage] = []
    digits = getattr(django_settings, "TWO_FACTOR_TOTP_DIGITS", 6)
    if _is_ours("TWO_FACTOR_SMS_GATEWAY") and digits not in (4, 5, 6):
        messages.append(
            Error(
                "two-factor's phone codes are not what kod.mobi delivers "
                "(4 to 6 digits).",
                hint="TWO_FACTOR_TOTP_DIGITS = 6",
                id=check_id("kodmobi.E012"),
            )
        )
    if _is_ours("TWO_FACTOR_CALL_GATEWAY"):
        messages.append(
            Error(
                "kod.mobi makes no calls.",
                hint="Leave TWO_FACTOR_CALL_GATEWAY unset.",
                id=check_id("kodmobi.E013"),
            )
        )
    return messages
