"""Views that make their own commits, whatever ``ATOMIC_REQUESTS`` says.

The services commit each step when it happens: the flow's row before
kod.mobi is called, the attempt before kod.mobi sees the code, the login
with its audit. No transaction is held across a kod.mobi call, so that a
slow kod.mobi holds no row locks and a fault there is still recorded. A
project with ``ATOMIC_REQUESTS`` would run the whole view in one
transaction and undo all of that, so these views opt out of it, on every
database.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.views import View

__all__ = ["OwnCommits"]


class OwnCommits(View):
    """A view the request's transaction does not wrap (put it first among
    the bases)."""

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:  # DRF's views narrow the type
        view = super().as_view(**initkwargs)
        for alias in connections:
            view = transaction.non_atomic_requests(using=alias)(view)
        return view
