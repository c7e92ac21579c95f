"""Record the phones and emails in the user fields as verified contacts,
once, on upgrade: what ``kodmobi_fill_contacts`` does. Without them, the
first login of a person who has no contact row finds them by the user
fields, where an email is matched without regard to case: a sequential scan
of the users on every such login."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations


def fill_contacts(apps: Any, schema_editor: Any) -> None:
    from django_kodmobi.contact_fill import fill_contacts

    fill_contacts(
        apps.get_model(settings.AUTH_USER_MODEL), apps.get_model("kodmobi", "Contact")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("kodmobi", "0012_trusted_browsers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # Nothing to undo: the contacts stay true of the users going back.
    operations = [
        migrations.RunPython(fill_contacts, migrations.RunPython.noop, elidable=True)
    ]
