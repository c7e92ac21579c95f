"""No pattern indexes beside the passkey tables' character keys (see 0007).

A migration of its own: Django creates a new table's indexes when the
migration that makes it ends, so 0010 could not drop them yet.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.db import migrations

_lean = importlib.import_module("django_kodmobi.migrations.0007_lean_indexes")


def drop_pattern_indexes(apps: Any, schema_editor: Any) -> None:
    """Credential ids, challenges and ULIDs are matched whole."""
    _lean.drop_pattern_indexes_of(
        schema_editor,
        ("kodmobi_passkey", "kodmobi_passkeychallenge", "kodmobi_passkeyevent"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("kodmobi", "0010_passkeys"),
    ]

    operations = [
        # Nothing to put back: the indexes served no query.
        migrations.RunPython(drop_pattern_indexes, migrations.RunPython.noop),
    ]
