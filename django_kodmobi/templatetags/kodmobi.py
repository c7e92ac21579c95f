"""``{% load kodmobi %}{% kodmobi_login %}``: the login widget for any page."""

from __future__ import annotations

from typing import Any

from django import template

from django_kodmobi.views import login_context

register = template.Library()


@register.inclusion_tag("django_kodmobi/widget.html", takes_context=True)
def kodmobi_login(context: template.Context, next_url: str = "") -> dict[str, Any]:
    """Render the identifier form with the project's channel cards.

    ``next_url`` is where to go after the login (default: ``?next=`` or the
    current page).
    """
    request = context["request"]
    widget = login_context(request)
    widget["next"] = next_url or widget["next"] or request.get_full_path()
    widget["csrf_token"] = context.get("csrf_token")
    widget["request"] = request
    return widget
