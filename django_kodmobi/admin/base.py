"""What every page of the audit is: read-only, times to the second."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.timezone import is_aware, localtime

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

__all__ = ["ReadOnlyMixin", "time_column", "to_the_second"]


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def to_the_second(moment: datetime | None) -> str:
    """An audit time to the second, in the site's time zone."""
    if moment is None:
        return "-"
    shown = localtime(moment) if is_aware(moment) else moment  # naive: USE_TZ off
    return shown.strftime("%Y-%m-%d %H:%M:%S")


def time_column(field: str, label: StrPromise) -> Callable[[Any, Any], str]:
    """An admin column showing the datetime ``field`` to the second."""

    def column(model_admin: Any, obj: Any) -> str:
        return to_the_second(getattr(obj, field))

    return admin.display(column, description=label, ordering=field)
