"""Step-up for your own views: a decorator, a mixin and a DRF permission.

Each lets a logged-in person through when they confirmed a code within
``max_age`` seconds (default ``KODMOBI["STEP_UP_MAX_AGE"]``), or use a
browser they chose to trust after a code (``TRUST_BROWSER_DAYS``; pass
``trusted_browser=False`` where only a fresh code will do); otherwise the
page sends them to confirm one (``kodmobi:step_up``) and back to where they
were, and the API answers 403 ``step_up_required``.

A POST that had to step up is not replayed: the person comes back to the
page (a GET) and submits again. Through the API, ``step-up/`` and
``step-up/verify/`` confirm a code for the session (browser mode) or for the
token in ``Authorization`` (app mode).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, overload
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .conf import settings
from .services.step_up import step_up_satisfied

__all__ = ["StepUpRequired", "StepUpRequiredMixin", "kodmobi_step_up_required"]

_View = TypeVar("_View", bound=Callable[..., HttpResponse])


def redirect_to_step_up(request: HttpRequest) -> HttpResponseRedirect:
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('kodmobi:step_up')}?{query}")


@overload
def kodmobi_step_up_required(view: _View) -> _View: ...
@overload
def kodmobi_step_up_required(
    view: None = None, *, max_age: int | None = None, trusted_browser: bool = True
) -> Callable[[_View], _View]: ...
def kodmobi_step_up_required(
    view: _View | None = None,
    *,
    max_age: int | None = None,
    trusted_browser: bool = True,
) -> _View | Callable[[_View], _View]:
    """``@kodmobi_step_up_required``, or with ``(max_age=60)`` and
    ``(trusted_browser=False)``."""

    def decorator(view_func: _View) -> _View:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            age = settings.STEP_UP_MAX_AGE if max_age is None else max_age
            if step_up_satisfied(request, age, trusted_browser=trusted_browser):
                return view_func(request, *args, **kwargs)
            return redirect_to_step_up(request)

        return wrapper  # type: ignore[return-value]

    return decorator(view) if view is not None else decorator


class StepUpRequiredMixin:
    """For class-based views; ``step_up_max_age`` overrides the setting,
    ``step_up_trusted_browser = False`` asks a code of trusted browsers too."""

    step_up_max_age: int | None = None
    step_up_trusted_browser: bool = True

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent: Callable[..., HttpResponse] = super().dispatch  # type: ignore[misc]
        guard = kodmobi_step_up_required(
            max_age=self.step_up_max_age, trusted_browser=self.step_up_trusted_browser
        )
        return guard(parent)(request, *args, **kwargs)


class StepUpRequired(BasePermission):
    """A DRF permission: logged in and stepped up within ``max_age``.

    Subclass to change ``max_age`` or ``trusted_browser``. The API's
    ``step-up/`` and ``step-up/verify/`` endpoints confirm a code.
    """

    max_age: int | None = None
    trusted_browser: bool = True
    message = _("Confirm a code first: POST step-up/, then step-up/verify/.")
    code = "step_up_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user.is_authenticated:
            return False
        age = settings.STEP_UP_MAX_AGE if self.max_age is None else self.max_age
        return step_up_satisfied(
            request._request, age, trusted_browser=self.trusted_browser
        )
