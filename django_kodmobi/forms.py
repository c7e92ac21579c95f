"""The two small forms of the login pages. Rules live in the services."""

from __future__ import annotations

import math
from datetime import timedelta

from django import forms
from django.utils.timesince import timeuntil
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import clock
from .exceptions import VerificationError
from .services.verify import MAX_CODE_INPUT


class IdentifierForm(forms.Form):
    identifier = forms.CharField(
        label=_("Phone number or email"),
        max_length=254,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "placeholder": _("+7 999 123-45-67 or you@example.com"),
            }
        ),
    )
    channel = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=MAX_CODE_INPUT,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )

    def add_failure(self, exc: VerificationError) -> None:
        """Show why the code was refused, for how long, and how many tries
        are left."""
        self.add_error("code", failure_text(exc))
        if exc.attempts_left is not None:
            left = gettext("Attempts left: %(count)d.") % {"count": exc.attempts_left}
            self.add_error("code", left)


def failure_text(exc: VerificationError) -> str:
    """What a page says of ``exc``: its message, and for how long when it
    says (a pause, a limit, a blocked phone): "Try again in 15 minutes."."""
    if not exc.retry_after:
        return exc.message
    if exc.retry_after < 60:
        wait = gettext("Try again in %(seconds)d s.") % {"seconds": exc.retry_after}
    else:
        # Whole minutes, rounded up: "in 9 minutes" for a 10-minute wait
        # would send the person back too early.
        now = clock.now()
        until = now + timedelta(minutes=math.ceil(exc.retry_after / 60))
        wait = gettext("Try again in %(time)s.") % {
            "time": timeuntil(until, now, depth=1)
        }
    return f"{exc.message} {wait}"
