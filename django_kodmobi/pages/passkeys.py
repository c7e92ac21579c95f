"""Passkeys on the pages: the offer after a code, the login without one,
and removal beside the contacts.

WebAuthn is a browser API, so the ceremonies themselves need JavaScript
(``kodmobi.js`` posts to the JSON endpoints here). Without it the pages
still work: the offer is a "Continue" link and the login is by code.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View

from django_kodmobi import devices
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.services import passkeys
from django_kodmobi.services.step_up import step_up_destination
from django_kodmobi.step_up import kodmobi_step_up_required

from .bases import OpenToAll, OwnCommits
from .login import LATER_COOKIE, PROTECT, safe_next

__all__ = [
    "LoginOptionsView",
    "LoginView",
    "OfferView",
    "RegisterOptionsView",
    "RegisterView",
    "RemoveView",
]

#: How long "Not now" keeps the offer away from this browser.
LATER_SECONDS = 30 * 24 * 3600


def _failure(exc: VerificationError) -> JsonResponse:
    response = JsonResponse(
        {"code": exc.reason.value, "detail": exc.message}, status=exc.http_status
    )
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


def _credential(request: HttpRequest) -> Any:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    credential = body.get("credential") if isinstance(body, dict) else None
    if not isinstance(credential, dict):
        raise VerificationError(Failure.PASSKEY_REFUSED)
    return credential


class JsonCeremony(OwnCommits):
    """A step of a WebAuthn ceremony: JSON in and out, errors as the API's."""

    http_method_names = ["post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)
        except VerificationError as exc:
            return _failure(exc)


@method_decorator([*PROTECT, login_required], name="dispatch")
class OfferView(View):
    """Right after a code: "Sign in without a code next time?" One button
    creates the passkey; "Not now" goes on (and is remembered)."""

    template_name = "django_kodmobi/passkey_offer.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        next_url = safe_next(request, request.GET.get("next"))
        if request.GET.get("later") or not passkeys.available():
            response = redirect(next_url)
            response.set_cookie(
                LATER_COOKIE,
                "1",
                max_age=LATER_SECONDS,
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
            return response
        later = f"{reverse('kodmobi:passkey_offer')}?{urlencode({'next': next_url, 'later': 1})}"
        return render(
            request, self.template_name, {"next": next_url, "later_url": later}
        )


@method_decorator([*PROTECT, login_required], name="dispatch")
class RegisterOptionsView(JsonCeremony):
    def post(self, request: HttpRequest) -> JsonResponse:
        options = passkeys.registration_options(request, request.user)  # type: ignore[arg-type]
        return JsonResponse({"publicKey": options})


@method_decorator([*PROTECT, login_required], name="dispatch")
class RegisterView(JsonCeremony):
    def post(self, request: HttpRequest) -> JsonResponse:
        passkeys.register_passkey(request, request.user, _credential(request))  # type: ignore[arg-type]
        messages.success(request, _("Your passkey is ready: next time, no code."))
        return JsonResponse({"redirect": safe_next(request, request.GET.get("next"))})


@method_decorator(PROTECT, name="dispatch")
class LoginOptionsView(OpenToAll, JsonCeremony):
    def post(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"publicKey": passkeys.login_options(request)})


@method_decorator(PROTECT, name="dispatch")
class LoginView(OpenToAll, JsonCeremony):
    """Log in by a passkey: no code, no message, nothing asked of kod.mobi."""

    def post(self, request: HttpRequest) -> JsonResponse:
        user = passkeys.log_in_by_passkey(request, _credential(request))
        messages.success(request, _("You are logged in."))
        response = JsonResponse(
            {"redirect": safe_next(request, request.GET.get("next"))}
        )
        # The passkey proved the account: should this browser ever fall back
        # to a code, it keeps its own budgets for the account's contact.
        destination = step_up_destination(user)
        if destination is not None:
            devices.remember(request, response, destination.value)
        return response


@method_decorator(
    [*PROTECT, login_required, kodmobi_step_up_required(trusted_browser=False)],
    name="dispatch",
)
class RemoveView(OwnCommits):
    """Remove a passkey (from the contacts page), after a step-up."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, passkey_id: str) -> HttpResponse:
        try:
            passkeys.remove_passkey(request, request.user, passkey_id)  # type: ignore[arg-type]
        except VerificationError:
            messages.error(request, _("That passkey was already removed."))
        else:
            messages.success(
                request, _("The passkey is removed. You can still log in by code.")
            )
        return redirect("kodmobi:contacts")
