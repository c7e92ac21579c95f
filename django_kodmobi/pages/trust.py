"""The account's browsers: forget every trusted one, or log out everywhere.

Both are plain POST forms on the contacts page; both need only the login
(they take trust away, they never give it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from django_kodmobi.services import trust

__all__ = ["ForgetBrowsersView", "LogoutEverywhereView"]

_posts: list[Any] = [login_required, never_cache, csrf_protect]


@method_decorator(_posts, name="dispatch")
class ForgetBrowsersView(View):
    """No browser of this account skips step-up or the second factor."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        response = redirect("kodmobi:contacts")
        trust.forget_browsers(request, response)
        messages.success(
            request,
            _("No browser is trusted now: each asks for a code again."),
            fail_silently=True,
        )
        return response


@method_decorator(_posts, name="dispatch")
class LogoutEverywhereView(View):
    """End every trust, log this browser out and, for an account with no
    password, every other browser too."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        others_ended = trust.log_out_everywhere(request)
        if others_ended:
            text = _("You are logged out on every browser.")
        else:
            text = _(
                "You are logged out here, and no browser is trusted. Other "
                "browsers stay logged in until your password changes."
            )
        messages.success(request, text, fail_silently=True)
        response = redirect(resolve_url(django_settings.LOGOUT_REDIRECT_URL or "/"))
        response.delete_cookie(trust.COOKIE_NAME, samesite="Lax")
        return response
