"""Paid messages with passkeys: 1,000 returning people log in 10 times each
through the REST API, against the in-process sandbox, which counts every
message it sends (each paid code is one call to send it). A simulation, not a timing: prints one JSON line.

Each person's first login is by code, after which their device creates a
passkey; the next logins are by passkey. ``--lost`` of the people lose their
device once, at a random later login: that login is by code (the way back)
and the new device makes a new passkey. Without passkeys every login is a
code: 10,000 messages.

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python -m benchmarks.bench_passkeys
"""

from __future__ import annotations

import argparse
import json
import random

from benchmarks.common import setup_django, test_databases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--lost", type=float, default=0.05)
    args = parser.parse_args()

    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import override_settings
    from django.urls import reverse
    from rest_framework.test import APIClient

    from django_kodmobi.soft_passkey import SoftPasskey
    from django_kodmobi.testing import sandbox_settings

    def post(client: APIClient, name: str, body: object = None) -> dict[str, object]:
        reply = client.post(reverse(f"kodmobi_api:{name}"), body, format="json")
        assert reply.status_code in (200, 201), (name, reply.json())
        return dict(reply.json())

    kodmobi = {
        **settings.KODMOBI,
        "PASSKEYS": True,
        "PASSKEY_RP_ID": "localhost",
        "PASSKEY_ORIGINS": ["http://localhost"],
    }
    chance = random.Random(7)  # the same people lose their phones every run
    by_code = by_passkey = 0
    with (
        test_databases(),
        override_settings(KODMOBI=kodmobi),
        sandbox_settings() as engine,
    ):
        users = get_user_model()
        for n in range(args.people):
            email = f"p{n:05}@example.com"
            users.objects.create_user(f"p{n:05}", email)
            lost_at = (
                chance.randrange(1, args.logins)
                if chance.random() < args.lost
                else None
            )
            device: SoftPasskey | None = None
            for login in range(args.logins):
                client = APIClient()
                if login == lost_at:
                    device = None  # a new phone: no passkey on it
                if device is None:
                    flow = post(client, "start", {"identifier": email})["flow"]
                    code = engine.last_code(email)
                    post(client, "verify", {"flow": flow, "code": code})
                    by_code += 1
                    device = SoftPasskey(origin="http://localhost")
                    options = post(client, "passkey_register_options")
                    credential = device.create(options)
                    post(client, "passkey_register", {"credential": credential})
                else:
                    options = post(client, "passkey_login_options")
                    credential = device.get(options)
                    post(client, "passkey_login", {"credential": credential})
                    by_passkey += 1
        # Each code kod.mobi sends (a start, or a send again) is paid for.
        messages = engine.calls["create"] + engine.calls["send"]
        calls = sum(engine.calls.values())
    logins = args.people * args.logins
    print(
        json.dumps(
            {
                "benchmark": "passkeys_paid_messages",
                "people": args.people,
                "logins_each": args.logins,
                "lost_a_device": args.lost,
                "logins_by_code": by_code,
                "logins_by_passkey": by_passkey,
                "paid_messages": messages,
                "kodmobi_calls": calls,
                "paid_messages_without_passkeys": logins,
                "saved": round(1 - messages / logins, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
