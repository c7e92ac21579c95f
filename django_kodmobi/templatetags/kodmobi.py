"""``{% load kodmobi %}{% kodmobi_login %}``: the login widget for any page."""

from __future__ import annotations

from typing import Any

from django import template

from django_kodmobi.users import display_contact
from django_kodmobi.views import is_login_page, login_context

register = template.Library()


@register.inclusion_tag("django_kodmobi/widget.html", takes_context=True)
def kodmobi_login(context: template.Context, next_url: str = "") -> dict[str, Any]:
    """The identifier form with the project's channel cards, or, for a person
    already logged in, who they are and a log-out button.

    ``next_url`` is where to go after the login (default: ``?next=``, else
    the current page unless it is a login page, else ``LOGIN_REDIRECT_URL``).
    The widget brings its stylesheet and script; a page that already links
    them (``django_kodmobi/_assets.html``) loads them once all the same.
    """
    request = context["request"]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        widget: dict[str, Any] = {"signed_in_as": display_contact(user)}
    else:
        widget = login_context(request)
        here = request.get_full_path()
        widget["next"] = (
            next_url or widget["next"] or ("" if is_login_page(here) else here)
        )
    widget["csrf_token"] = context.get("csrf_token")
    widget["request"] = request
    widget["with_assets"] = True
    return widget
