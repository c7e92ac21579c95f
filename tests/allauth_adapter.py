"""The suite's allauth adapter: allauth's own, with kod.mobi's phone half."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from django_kodmobi.contrib.allauth import KodmobiAccountAdapterMixin


class AccountAdapter(KodmobiAccountAdapterMixin, DefaultAccountAdapter):  # type: ignore[misc]
    pass
