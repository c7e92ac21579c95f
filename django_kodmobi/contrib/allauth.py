"""django-allauth: its phone codes delivered by kod.mobi, its phones kept as
verified contacts.

allauth keeps making and checking its codes; kod.mobi only delivers them
(the manual flow), on the person's messenger when they have one, else by
SMS. kod.mobi delivers codes of 4 to 6 digits, and allauth's default phone
code is 8 letters, so set::

    ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}

(system check ``kodmobi.E011`` says so if you don't). Use the mixin before
allauth's adapter::

    from allauth.account.adapter import DefaultAccountAdapter
    from django_kodmobi.contrib.allauth import KodmobiAccountAdapterMixin

    class AccountAdapter(KodmobiAccountAdapterMixin, DefaultAccountAdapter):
        pass

allauth ships no phone model: the mixin stores phones as this app's
verified contacts, so a phone verified in allauth also logs in by code here,
and the other way round.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string

from django_kodmobi.check_ids import check_id
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.models import Contact, IdentifierKind
from django_kodmobi.services import send_code
from django_kodmobi.services.contacts import claim, promote_if_none
from django_kodmobi.users import normalize_identifier

__all__ = ["KodmobiAccountAdapterMixin", "check_code_format"]

logger = logging.getLogger("django_kodmobi.contrib.allauth")


class KodmobiAccountAdapterMixin:
    """The phone half of allauth's account adapter, on kod.mobi."""

    def send_verification_code_sms(
        self, user: AbstractBaseUser, phone: str, code: str, **kwargs: Any
    ) -> None:
        purpose = "allauth_reauth" if kwargs.get("reauthentication") else "allauth"
        send_code(phone, code, purpose=purpose)

    def get_phone(self, user: AbstractBaseUser) -> tuple[str, bool] | None:
        contact = (
            Contact.objects.filter(
                user_id=user.pk, kind=IdentifierKind.PHONE, removed_at__isnull=True
            )
            .order_by("-primary", "-verified_at")
            .first()
        )
        return None if contact is None else (contact.value, contact.is_verified)

    def set_phone(self, user: AbstractBaseUser, phone: str, verified: bool) -> None:
        value = normalize_identifier(phone).value
        # allauth keeps one phone per user: a new one replaces the others.
        Contact.objects.filter(
            user_id=user.pk, kind=IdentifierKind.PHONE, verified_at__isnull=True
        ).exclude(value=value).delete()
        contact, _ = Contact.objects.get_or_create(
            user_id=user.pk, value=value, defaults={"kind": IdentifierKind.PHONE}
        )
        if verified:
            self._verify(contact)

    def set_phone_verified(self, user: AbstractBaseUser, phone: str) -> None:
        value = normalize_identifier(phone).value
        contact = Contact.objects.filter(user_id=user.pk, value=value).first()
        if contact is not None:
            self._verify(contact)

    def get_user_by_phone(self, phone: str) -> AbstractBaseUser | None:
        try:
            value = normalize_identifier(phone).value
        except VerificationError:
            return None
        contact = (
            Contact.objects.verified()
            .filter(value=value)
            .select_related("user")
            .first()
        )
        return None if contact is None else contact.user

    @staticmethod
    def _verify(contact: Contact) -> None:
        try:
            claim(contact)
        except VerificationError:
            # Another account verified this phone first (allauth checked it
            # was free when the code went out): it stays that account's,
            # and this one's stays unverified. allauth's views expect no
            # exception here; raising would answer 500.
            logger.warning(
                "allauth: %s is verified by another account", contact.masked_value
            )
            return
        promote_if_none(contact)


def check_code_format(**kwargs: Any) -> list[CheckMessage]:
    """kodmobi.E011: allauth's phone codes must be what kod.mobi delivers."""
    if not apps.is_installed("allauth.account"):
        return []
    from allauth.account import app_settings

    adapter = import_string(app_settings.ADAPTER)
    if not issubclass(adapter, KodmobiAccountAdapterMixin):
        return []
    code = dict(app_settings.PHONE_VERIFICATION_CODE_FORMAT)
    if (
        code.get("numeric")
        and not code.get("dashed", True)
        and 4 <= int(code.get("length") or 0) <= 6
    ):
        return []
    return [
        Error(
            "allauth's phone codes are not what kod.mobi delivers (4 to 6 digits).",
            hint='ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, '
            '"length": 6, "dashed": False}',
            id=check_id("kodmobi.E011"),
        )
    ]
