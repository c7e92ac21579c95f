"""``{% load kodmobi %}``: ``{% kodmobi_login %}``, the login widget, and
``{% kodmobi_contacts %}``, a logged-in person's phones and emails, for any
page."""

from __future__ import annotations

from typing import Any

from django import template

from django_kodmobi.forms import IdentifierForm
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import Contact
from django_kodmobi.pages.login import is_login_page, login_context
from django_kodmobi.users import display_contact

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


@register.inclusion_tag("django_kodmobi/contacts_widget.html", takes_context=True)
def kodmobi_contacts(context: template.Context) -> dict[str, Any]:
    """The person's phones and emails with their actions, and the form to
    add one (it continues on the contacts pages). Nothing for visitors."""
    request = context["request"]
    user = getattr(request, "user", None)
    mine = (
        Contact.objects.filter(user_id=user.pk, removed_at__isnull=True)
        if user is not None and user.is_authenticated
        else Contact.objects.none()
    )
    return {
        "form": IdentifierForm(),
        "contacts": [(c, mask_for_display(c.value)) for c in mine],
        "csrf_token": context.get("csrf_token"),
        "request": request,
        "signed_in": user is not None and user.is_authenticated,
    }
