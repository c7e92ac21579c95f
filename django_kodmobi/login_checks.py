"""System checks that a configured login can end in a login.

Each catches, at ``manage.py check``, a setting that would otherwise be
found only after a person has spent a code:

kodmobi.E008  USER_PHONE_FIELD or USER_EMAIL_FIELD names no field of the user model
kodmobi.E009  an allowed kind of identifier can never log in
kodmobi.E010  API_LOGIN names a mode whose app or package is missing
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import FieldDoesNotExist

from .check_ids import check_id
from .checks import serves_login_by_code
from .conf import settings
from .models import IdentifierKind
from .users import can_ever_log_in

__all__ = ["check_login_settings"]


@register(Tags.security)
def check_login_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    login = _identifiers() if serves_login_by_code() else []
    return [*_user_fields(), *login, *_api_login()]


def _user_fields() -> list[CheckMessage]:
    user_model = get_user_model()
    messages: list[CheckMessage] = []
    for name in ("USER_PHONE_FIELD", "USER_EMAIL_FIELD"):
        field = settings.get(name)
        if not field:
            continue
        try:
            user_model._meta.get_field(field)
        except FieldDoesNotExist:
            messages.append(
                Error(
                    f"KODMOBI['{name}'] = {field!r}, but {user_model._meta.label} "
                    "has no such field.",
                    hint="Name a field of your user model, or leave it None.",
                    id=check_id("kodmobi.E008"),
                )
            )
    return messages


def _identifiers() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for kind in IdentifierKind:
        if kind.value in settings.IDENTIFIERS and not can_ever_log_in(kind):
            field = (
                "USER_PHONE_FIELD"
                if kind is IdentifierKind.PHONE
                else "USER_EMAIL_FIELD"
            )
            messages.append(
                Error(
                    f"People may type a {kind.value} (KODMOBI['IDENTIFIERS']), but "
                    "nothing can turn one into a user: they would get a code and "
                    "then be refused.",
                    hint=f"Set KODMOBI['{field}'], a USER_RESOLVER, or SIGNUP with a "
                    f"USER_FACTORY; or drop {kind.value!r} from IDENTIFIERS.",
                    id=check_id("kodmobi.E009"),
                )
            )
    return messages


def _api_login() -> list[CheckMessage]:
    mode = settings.get("API_LOGIN")
    if mode == "token" and not apps.is_installed("rest_framework.authtoken"):
        return [
            Error(
                "KODMOBI['API_LOGIN'] = 'token' needs DRF's token app.",
                hint="Add 'rest_framework.authtoken' to INSTALLED_APPS and migrate.",
                id=check_id("kodmobi.E010"),
            )
        ]
    if mode == "jwt" and importlib.util.find_spec("rest_framework_simplejwt") is None:
        return [
            Error(
                "KODMOBI['API_LOGIN'] = 'jwt' needs djangorestframework-simplejwt.",
                hint="pip install 'django-kodmobi[jwt]'.",
                id=check_id("kodmobi.E010"),
            )
        ]
    return []
