"""What the app's views are, whatever the project's settings and middleware.

- :class:`OwnCommits`: the services commit each step when it happens: the
  flow's row before kod.mobi is called, the attempt before kod.mobi sees the
  code, the login with its audit. No transaction is held across a kod.mobi
  call, so a slow kod.mobi holds no row locks and a fault there is still
  recorded. ``ATOMIC_REQUESTS`` would run the whole view in one transaction
  and undo all of that, so these views opt out of it, on every database.
- :class:`OpenToAll`: the login is for people who are not logged in yet,
  kod.mobi's callbacks come from kod.mobi, and the REST API authenticates on
  its own (a token is not a session). Django's ``LoginRequiredMiddleware``
  (5.1+) would send them all to the login page, itself included, so these
  views are marked ``login_not_required``.

Put them first among a view's bases.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import decorators as auth_decorators
from django.db import connections, transaction
from django.views import View

#: Django 5.1+; before it, there is no LoginRequiredMiddleware to get past.
_login_not_required = getattr(auth_decorators, "login_not_required", None)

__all__ = ["OpenToAll", "OwnCommits"]


class OwnCommits(View):
    """A view the request's transaction does not wrap."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:  # DRF's views narrow the type
        view = super().as_view(**initkwargs)
        for alias in connections:
            view = transaction.non_atomic_requests(using=alias)(view)
        return view


class OpenToAll(View):
    """A view ``LoginRequiredMiddleware`` lets everybody reach."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        return _login_not_required(view) if _login_not_required else view
