"""The step-up page: send a code to the person's primary contact, take it,
go back to where they were."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _

from django_kodmobi import services
from django_kodmobi.exceptions import VerificationError
from django_kodmobi.forms import CodeForm
from django_kodmobi.masking import mask_for_display
from django_kodmobi.services import step_up

from .bases import OwnCommits
from .login import (
    CHALLENGE_FIELD,
    PROTECT,
    is_safe_url,
    offer_or_next,
    safe_next,
    trust_days,
    trust_if_asked,
)

__all__ = ["StepUpView"]

#: The step-up flow in progress, in the Django session.
STEP_UP_FLOW_KEY = "kodmobi_step_up_flow"


@method_decorator([login_required, *PROTECT], name="dispatch")
class StepUpView(OwnCommits):
    """GET: what will happen; POST ``send``: a code goes out; POST ``code``:
    checked, then back to ``next``."""

    template_name = "django_kodmobi/step_up.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        user: Any = request.user
        next_url = request.POST.get("next") or ""
        if "send" in request.POST:
            try:
                flow = step_up.start_step_up(
                    user,
                    client=services.ClientInfo.from_request(request),
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                messages.error(request, exc.message, fail_silently=True)
            else:
                request.session[STEP_UP_FLOW_KEY] = {
                    "id": flow.session.pk,
                    "token": flow.token,
                }
            return self.render(request, CodeForm(), next_url=next_url)
        stash = request.session.get(STEP_UP_FLOW_KEY) or {}
        form = CodeForm(request.POST)
        if form.is_valid() and isinstance(stash, dict):
            try:
                step_up.confirm_step_up(
                    request,
                    str(stash.get("id", "")),
                    str(stash.get("token", "")),
                    form.cleaned_data["code"],
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                form.add_failure(exc)
            else:
                request.session.pop(STEP_UP_FLOW_KEY, None)
                response = offer_or_next(request, safe_next(request, next_url))
                trust_if_asked(request, response)
                return response
        return self.render(request, form, status=400, next_url=next_url)

    def render(
        self,
        request: HttpRequest,
        form: CodeForm,
        status: int = 200,
        next_url: str = "",
    ) -> HttpResponse:
        destination = step_up.step_up_destination(request.user)  # type: ignore[arg-type]
        if destination is None:
            # Nothing to send a code to: the action cannot be confirmed.
            raise PermissionDenied(_("Add a phone or email to your account first."))
        context = {
            "form": form,
            "destination": mask_for_display(destination.value),
            "code_sent": self.code_sent(request),
            "trust_days": trust_days(),
            # Echoed into the form only when it stays on this site (G2).
            "next": _safe_or_empty(request, next_url or request.GET.get("next", "")),
        }
        return render(request, self.template_name, context, status=status)

    @staticmethod
    def code_sent(request: HttpRequest) -> bool:
        stash = request.session.get(STEP_UP_FLOW_KEY)
        if not isinstance(stash, dict):
            return False
        try:
            session = services.get_flow_session(
                str(stash.get("id", "")), str(stash.get("token", ""))
            )
        except VerificationError:
            return False
        return session.is_open and not session.is_expired()


def _safe_or_empty(request: HttpRequest, url: str) -> str:
    return url if is_safe_url(request, url) else ""
