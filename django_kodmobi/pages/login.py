"""Server-rendered login pages. They work without JavaScript."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from django_kodmobi import devices, services
from django_kodmobi.client import SessionChannel
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.forms import CodeForm, IdentifierForm, failure_text
from django_kodmobi.masking import mask_for_display
from django_kodmobi.models import OTPSession
from django_kodmobi.services import trust
from django_kodmobi.services.passkeys import available as passkeys_available

from .bases import OpenToAll, OwnCommits

__all__ = ["CodeView", "LoginView", "LogoutView", "ResendView", "RestartView"]

#: Where the pages keep the flow in the Django session.
FLOW_KEY = "kodmobi_flow"
CHALLENGE_FIELD = "kodmobi_challenge_token"


def is_safe_url(request: HttpRequest, url: str | None) -> bool:
    """True when ``url`` stays on this site (no open redirect)."""
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def is_login_page(url: str) -> bool:
    """True for this app's login pages and the site's ``LOGIN_URL``: after a
    login, going "back" there would show the form again."""
    path = urlsplit(url).path
    login_pages = {reverse("kodmobi:login"), reverse("kodmobi:code")}
    login_pages.add(urlsplit(resolve_url(django_settings.LOGIN_URL)).path)
    return path in login_pages


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it stays on this site and is not a login page, else
    ``LOGIN_REDIRECT_URL``."""
    if candidate and is_safe_url(request, candidate) and not is_login_page(candidate):
        return candidate
    return resolve_url(django_settings.LOGIN_REDIRECT_URL)


#: Set by "Not now": this browser is not offered a passkey again for a while.
LATER_COOKIE = "kodmobi_passkey_later"


def after_code(request: HttpRequest, next_url: str) -> str:
    """Where a person goes after a code: the passkey offer, then
    ``next_url``; or straight there when passkeys are off or this browser
    said "not now"."""
    if not passkeys_available() or request.COOKIES.get(LATER_COOKIE):
        return next_url
    return f"{reverse('kodmobi:passkey_offer')}?{urlencode({'next': next_url})}"


def offer_or_next(request: HttpRequest, next_url: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(after_code(request, next_url))


def trust_days() -> int:
    """Days the code forms offer to trust this browser for (0: no offer)."""
    return settings.TRUST_BROWSER_DAYS if trust.offers_trust() else 0


def trust_if_asked(request: HttpRequest, response: HttpResponse) -> None:
    """After a right code: trust this browser when the person ticked it."""
    if trust.offers_trust() and request.POST.get("trust_browser") == "1":
        trust.trust_browser(request, response)


def project_channels() -> tuple[SessionChannel, ...]:
    """The project's channels for the login page; none when kod.mobi is down."""
    try:
        return services.get_channels()
    except VerificationError:
        return ()


def _notify(request: HttpRequest, level: int, text: str) -> None:
    messages.add_message(request, level, text, fail_silently=True)


PROTECT = [
    never_cache,
    csrf_protect,
    sensitive_post_parameters("identifier", "code", CHALLENGE_FIELD),
]


@method_decorator(PROTECT, name="dispatch")
class LoginView(OpenToAll, OwnCommits):
    """Type a phone or email; optionally pick a channel card first."""

    template_name = "django_kodmobi/login.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IdentifierForm(request.POST)
        if form.is_valid():
            try:
                flow = services.start_login(
                    form.cleaned_data["identifier"],
                    channel=form.cleaned_data["channel"] or None,
                    client=services.ClientInfo.from_request(request),
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                connect = None
                if exc.reason is Failure.CHANNEL_UNAVAILABLE:
                    connect = _connect_link(form.cleaned_data["channel"])
                    # Do not offer the channel that just failed as the pick.
                    data = request.POST.copy()
                    data.setlist("channel", [""])
                    form = IdentifierForm(data)
                    form.is_valid()
                form.add_error(None, failure_text(exc))
                return self.render(request, form, failure=exc, connect=connect)
            else:
                request.session[FLOW_KEY] = {
                    "id": flow.session.pk,
                    "token": flow.token,
                    "next": safe_next(request, request.POST.get("next")),
                }
                return redirect("kodmobi:code")
        return self.render(request, form, status=400)

    def render(
        self,
        request: HttpRequest,
        form: IdentifierForm | None = None,
        status: int = 200,
        failure: VerificationError | None = None,
        connect: SessionChannel | None = None,
    ) -> HttpResponse:
        context = {**login_context(request, form), "connect": connect}
        response = render(request, self.template_name, context, status=status)
        return with_failure(response, failure)


#: Channels a person connects to by opening a bot (kod.mobi's ``link``).
BOT_CHANNELS = ("telegram", "whatsapp")


def _connect_link(channel: str) -> SessionChannel | None:
    """The project's ``channel``, when it is a messenger with a link to its
    bot: a person it could not reach can open that and ask again."""
    if channel not in BOT_CHANNELS:
        return None
    return next((c for c in project_channels() if c.type == channel and c.link), None)


def with_failure(
    response: HttpResponse, failure: VerificationError | None
) -> HttpResponse:
    """A page that shows ``failure``: 400, or the failure's own 429 or 503
    with ``Retry-After`` when it says when to come back (limits, a service
    that is down), as the REST API answers."""
    if failure is None:
        return response
    response.status_code = 400
    if failure.http_status in (429, 503):
        response.status_code = failure.http_status
        if failure.retry_after:
            response["Retry-After"] = str(failure.retry_after)
    return response


def login_context(
    request: HttpRequest, form: IdentifierForm | None = None
) -> dict[str, Any]:
    """What the login page and the ``{% kodmobi_login %}`` widget render."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    selected = (
        form.data.get("channel", "") if form is not None and form.is_bound else ""
    )
    return {
        "form": form or IdentifierForm(),
        "channels": project_channels(),
        "next": next_url if is_safe_url(request, next_url) else "",
        "sandbox_inbox_url": settings.SANDBOX_INBOX_URL,
        "selected_channel": selected,
        "passkeys": passkeys_available(),
    }


class FlowMixin:
    """Loads the flow the Django session holds, or sends the person back."""

    def flow(self, request: HttpRequest) -> tuple[OTPSession, str, str] | None:
        stash = request.session.get(FLOW_KEY)
        if not isinstance(stash, dict):
            return None
        try:
            session = services.get_flow_session(
                stash.get("id", ""), stash.get("token", "")
            )
        except VerificationError:
            request.session.pop(FLOW_KEY, None)
            return None
        return session, stash["token"], stash.get("next") or ""


@method_decorator(PROTECT, name="dispatch")
class CodeView(OpenToAll, OwnCommits, FlowMixin):
    """Type the code; resend on any channel; log in."""

    template_name = "django_kodmobi/code.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        flow = self.flow(request)
        if flow is None:
            return redirect("kodmobi:login")
        # "?channels=fresh": back from connecting a messenger, so kod.mobi's
        # word of a moment ago (kept for the page after a start) is stale.
        fresh = request.GET.get("channels") == "fresh"
        return self.render(request, flow[0], CodeForm(), recent=not fresh)

    def post(self, request: HttpRequest) -> HttpResponse:
        flow = self.flow(request)
        if flow is None:
            return redirect("kodmobi:login")
        session, token, next_url = flow
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                # login() flushes or cycles the session: the stash was read.
                services.verify_and_log_in(
                    request,
                    session.pk,
                    token,
                    form.cleaned_data["code"],
                    challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
                )
            except VerificationError as exc:
                form.add_failure(exc)
                session.refresh_from_db()
                return with_failure(self.render(request, session, form), exc)
            else:
                request.session.pop(FLOW_KEY, None)
                _notify(request, messages.SUCCESS, _("You are logged in."))
                # A passkey is offered first (when on): the next login sends
                # nothing.
                response = HttpResponseRedirect(
                    after_code(request, safe_next(request, next_url))
                )
                # This browser logged in as this identifier: trusted for it.
                devices.remember(request, response, session.identifier)
                trust_if_asked(request, response)
                return response
        return self.render(request, session, form, status=400)

    def render(
        self,
        request: HttpRequest,
        session: OTPSession,
        form: CodeForm,
        status: int = 200,
        recent: bool = True,
    ) -> HttpResponse:
        is_open = session.is_open and not session.is_expired()
        channels: tuple[SessionChannel, ...] = ()
        if is_open:
            try:
                channels = services.get_channels(session, recent=recent)
            except VerificationError:
                channels = ()
        cards = services.channel_cards(session, channels)
        context = {
            "form": form,
            "session": session,
            "destination": mask_for_display(session.identifier),
            "channel_name": next(
                (c.name for c in channels if c.type == session.channel),
                services.channel_name(session.channel),
            ),
            "cards": cards,
            "is_open": is_open,
            "code_length": settings.CODE_LENGTH,
            "trust_days": trust_days(),
            "sandbox_inbox_url": settings.SANDBOX_INBOX_URL,
        }
        return render(request, self.template_name, context, status=status)


@method_decorator(PROTECT, name="dispatch")
class ResendView(OpenToAll, OwnCommits, FlowMixin):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        flow = self.flow(request)
        if flow is None:
            return redirect("kodmobi:login")
        session, token, _next = flow
        try:
            session = services.resend_code(
                session.pk,
                token,
                request.POST.get("channel", ""),
                challenge_token=request.POST.get(CHALLENGE_FIELD) or None,
            )
        except VerificationError as exc:
            _notify(request, messages.ERROR, failure_text(exc))
        else:
            _notify(request, messages.SUCCESS, _("We sent the code again."))
        return redirect("kodmobi:code")


@method_decorator(PROTECT, name="dispatch")
class RestartView(OpenToAll):
    """Forget the flow and start over."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        stash = request.session.pop(FLOW_KEY, None)
        next_url = stash.get("next", "") if isinstance(stash, dict) else ""
        login = reverse("kodmobi:login")
        if next_url:
            login += "?" + urlencode({"next": next_url})
        return redirect(login)


class LogoutView(auth_views.LogoutView):
    """Log out (POST), say so, and go to ``LOGOUT_REDIRECT_URL`` or home."""

    http_method_names = ["post", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Django 4.2's LogoutView warns about a GET (deprecated) before the
        # method is checked: refuse it first, as 5.0+ do.
        if (
            request.method is None
            or request.method.lower() not in self.http_method_names
        ):
            return self.http_method_not_allowed(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return resolve_url(django_settings.LOGOUT_REDIRECT_URL or "/")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        _notify(request, messages.SUCCESS, _("You are logged out."))
        return response
