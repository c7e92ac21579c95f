"""The suite's user lookup.

``auth.User`` has no phone field, so on the default settings nothing could
turn a phone into a user and phone logins would be refused before a code is
sent (system check kodmobi.E009). The suite logs in by phone throughout, so
it names this resolver: emails go through the default lookup, and a phone
belongs to nobody, which is what most phone tests need (a verified code, then
"can't sign in with a code").
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from django_kodmobi import users
from django_kodmobi.models import IdentifierKind


def resolve(identifier: users.Identifier) -> AbstractBaseUser | None:
    if identifier.kind is IdentifierKind.EMAIL:
        return users.user_by_field(identifier)
    return None
