"""Pages for a logged-in person's phones and emails: list, add, verify,
make primary, remove. Plain forms: no JavaScript needed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from django_kodmobi import services
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.forms import CodeForm, IdentifierForm
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import Contact
from django_kodmobi.services import contacts, passkeys, trust
from django_kodmobi.services.step_up import step_up_destination, stepped_up_recently
from django_kodmobi.step_up import kodmobi_step_up_required, redirect_to_step_up

from .bases import OwnCommits
from .login import CHALLENGE_FIELD, PROTECT

__all__ = ["ContactActionView", "ContactCodeView", "ContactsView"]

#: The contact being verified: its flow, in the Django session.
CONTACT_FLOW_KEY = "kodmobi_contact_flow"

_pages: list[Any] = [login_required, *PROTECT]


def needs_step_up(request: HttpRequest) -> bool:
    """Adding a contact needs a step-up, unless there is nothing yet to send
    a step-up code to (the first contact of an account)."""
    user: Any = request.user
    if step_up_destination(user) is None:
        return False
    return not stepped_up_recently(request, settings.STEP_UP_MAX_AGE)


def _notify(request: HttpRequest, text: str) -> None:
    messages.success(request, text, fail_silently=True)


@method_decorator(_pages, name="dispatch")
class ContactsView(OwnCommits):
    template_name = "django_kodmobi/contacts.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, IdentifierForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if needs_step_up(request):
            return redirect_to_step_up(request)
        form = IdentifierForm(request.POST)
        if form.is_valid():
            try:
                flow = contacts.add_contact(
                    request.user,  # type: ignore[arg-type]
                    form.cleaned_data["identifier"],
                    channel=form.cleaned_data["channel"] or None,
                    client=services.ClientInfo.from_request(request),
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                form.add_error("identifier", exc.message)
            else:
                request.session[CONTACT_FLOW_KEY] = {
                    "id": flow.session.pk,
                    "token": flow.token,
                }
                return redirect("kodmobi:contact_code")
        return self.render(request, form, status=400)

    def render(
        self, request: HttpRequest, form: IdentifierForm, status: int = 200
    ) -> HttpResponse:
        user: Any = request.user  # logged in: login_required
        mine = Contact.objects.filter(user_id=user.pk, removed_at__isnull=True)
        context: dict[str, Any] = {
            "form": form,
            "contacts": [(c, mask_for_display(c.value)) for c in mine],
            "passkeys": passkeys.passkeys_of(user),
            "passkeys_on": passkeys.available(),
            "show_browsers": True,
            "trusted_browsers": trust.trusted_browsers_of(user),
            "this_browser_trusted": trust.trusted_browser(request) is not None,
        }
        return render(request, self.template_name, context, status=status)


@method_decorator(_pages, name="dispatch")
class ContactCodeView(OwnCommits):
    template_name = "django_kodmobi/contact_code.html"

    def stash(self, request: HttpRequest) -> dict[str, str] | None:
        stash = request.session.get(CONTACT_FLOW_KEY)
        return stash if isinstance(stash, dict) else None

    def get(self, request: HttpRequest) -> HttpResponse:
        stash = self.stash(request)
        if stash is None:
            return redirect("kodmobi:contacts")
        return self.render(request, stash, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        stash = self.stash(request)
        if stash is None:
            return redirect("kodmobi:contacts")
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                contact = contacts.verify_contact(
                    request.user,  # type: ignore[arg-type]
                    str(stash.get("id", "")),
                    str(stash.get("token", "")),
                    form.cleaned_data["code"],
                    request=request,
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                form.add_failure(exc)
            else:
                request.session.pop(CONTACT_FLOW_KEY, None)
                _notify(
                    request,
                    _("%(contact)s is verified.")
                    % {"contact": mask_for_display(contact.value)},
                )
                return redirect("kodmobi:contacts")
        return self.render(request, stash, form, status=400)

    def render(
        self,
        request: HttpRequest,
        stash: dict[str, str],
        form: CodeForm,
        status: int = 200,
    ) -> HttpResponse:
        try:
            session = services.get_flow_session(
                str(stash.get("id", "")), str(stash.get("token", ""))
            )
        except VerificationError:
            request.session.pop(CONTACT_FLOW_KEY, None)
            return redirect("kodmobi:contacts")
        context = {
            "form": form,
            "destination": mask_for_display(session.identifier),
            "channel_name": services.channel_name(session.channel),
        }
        return render(request, self.template_name, context, status=status)


#: Contacts prove who a person is: a change needs a fresh code, even on a
#: browser they trust.
_fresh_code = kodmobi_step_up_required(trusted_browser=False)


@method_decorator([*_pages, _fresh_code], name="dispatch")
class ContactActionView(OwnCommits):
    """POST ``action=primary`` or ``action=remove`` for one contact."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, contact_id: str) -> HttpResponse:
        action = request.POST.get("action")
        user: Any = request.user
        try:
            if action == "primary":
                contact = contacts.make_primary(user, contact_id)
                text = _("%(contact)s is now your primary contact.")
            elif action == "remove":
                contact = contacts.remove_contact(user, contact_id)
                text = _("%(contact)s is removed.")
            else:
                return redirect("kodmobi:contacts")
        except VerificationError:
            messages.error(
                request, _("That contact was not found."), fail_silently=True
            )
            return redirect("kodmobi:contacts")
        _notify(request, text % {"contact": mask_for_display(contact.value)})
        return redirect("kodmobi:contacts")
