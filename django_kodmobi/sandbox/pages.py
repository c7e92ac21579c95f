"""The sandbox's own routes under ``/sandbox/``: inbox, faults, clock, users,
and the codes checked per session.

These are a developer's controls, not part of kod.mobi, and take no key: the
sandbox listens on loopback and guards nothing real.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any, Protocol
from urllib.parse import quote

from .config import SandboxConfig
from .faults import Fault, FaultSet
from .http import SandboxRequest, SandboxResponse, html_response, json_response
from .inbox import Inbox
from .project import Refusal, SandboxProject

__all__ = ["SandboxControls", "handle_control"]


class SandboxControls(Protocol):
    """What these routes drive: the engine, named by its parts so that this
    module need not import the engine that imports it."""

    config: SandboxConfig
    inbox: Inbox
    faults: FaultSet
    project: SandboxProject

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...

    def configure(self, **changes: Any) -> None: ...


#: The channel icons the app itself ships (brand marks, see their LICENSES.md):
#: the sandbox serves them as kod.mobi serves its own.
_ICONS = resources.files("django_kodmobi") / "static" / "django_kodmobi" / "icons"
_ICON_CHANNELS = frozenset({"telegram", "whatsapp", "sms", "email"})


def handle_control(engine: SandboxControls, request: SandboxRequest) -> SandboxResponse:
    path = request.path.rstrip("/") or "/sandbox"
    method = request.method
    try:
        if path == "/sandbox" and method == "GET":
            return html_response(_inbox_page(engine))
        if path == "/sandbox/inbox":
            if method == "DELETE":
                engine.inbox.clear()
                return json_response(200, {"messages": []})
            to = request.param("to") or None
            # Newest first, as on the page.
            messages = [m.as_json() for m in reversed(engine.inbox.messages(to))]
            return json_response(200, {"messages": messages})
        if path == "/sandbox/faults":
            if method == "POST":
                fault = engine.faults.add(Fault.from_json(_json(request)))
                return json_response(201, fault.as_json())
            if method == "DELETE":
                engine.faults.clear()
            return json_response(
                200, {"faults": [f.as_json() for f in engine.faults.active()]}
            )
        if path == "/sandbox/sessions" and method == "GET":
            return json_response(200, {"checks": engine.project.check_counts()})
        if path == "/sandbox/clock" and method == "POST":
            engine.advance(float(_json(request).get("advance", 0)))
            return json_response(200, {"now": engine.now()})
        if path == "/sandbox/users" and method == "POST":
            data = _json(request)
            channels = data.get("channels")
            if not isinstance(channels, list):
                raise ValueError("channels must be a list")
            engine.project.set_reachable(data.get("to"), channels)  # type: ignore[arg-type]
            return json_response(200, {"to": data["to"], "channels": channels})
        if path == "/sandbox/settings":
            if method == "POST":
                engine.configure(**_json(request))
            return json_response(200, _runtime_settings(engine))
        if path == "/sandbox/blocks" and method == "POST":
            data = _json(request)
            seconds = data.get("seconds")
            engine.project.block(
                data.get("to"),  # type: ignore[arg-type]
                None if seconds is None else float(seconds),
            )
            return json_response(201, {"to": data["to"]})
        if path.startswith("/sandbox/connect/") and method == "GET":
            channel = path.rsplit("/", 1)[1]
            return html_response(_connect_page(engine, channel, request.param("to")))
        if path.startswith("/sandbox/icons/") and path.endswith(".svg"):
            channel = path.rsplit("/", 1)[1].removesuffix(".svg")
            if channel in _ICON_CHANNELS:
                return SandboxResponse(
                    200,
                    {
                        "Content-Type": "image/svg+xml",
                        "Access-Control-Allow-Origin": "*",
                        "Cache-Control": "max-age=86400",
                    },
                    (_ICONS / f"{channel}.svg").read_bytes(),
                )
    except (ValueError, KeyError, TypeError, Refusal) as exc:
        return json_response(400, {"error": _reason(exc)})
    return json_response(404, {"error": "no such sandbox control"})


def _runtime_settings(engine: SandboxControls) -> dict[str, Any]:
    config = engine.config
    return {
        "balance_empty": config.balance_empty,
        "channels": list(config.channels),
        "phone_channels": sorted(config.phone_channels),
    }


def _reason(exc: Exception) -> str:
    if isinstance(exc, Refusal):
        return exc.sys_message
    return str(exc) or type(exc).__name__


def _json(request: SandboxRequest) -> dict[str, Any]:
    data = json.loads(request.body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{refresh}
<style>
body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#222}}
table{{border-collapse:collapse;width:100%}}
th,td{{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}}
code.otp{{font-size:1.3rem;letter-spacing:.15em;font-weight:bold}}
.muted{{color:#777}}
</style></head><body>{content}</body></html>"""


def _inbox_page(engine: SandboxControls) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{m['id']}</td><td>{escape(m['sent_at'])}</td>"
        f"<td>{escape(m['channel'])}</td><td>{escape(m['to'])}</td>"
        f'<td><code class="otp">{escape(m["code"])}</code></td>'
        "</tr>"
        for m in reversed([message.as_json() for message in engine.inbox.messages()])
    )
    if not rows:
        rows = '<tr><td colspan="5" class="muted">No messages yet.</td></tr>'
    content = (
        "<h1>kod.mobi sandbox inbox</h1>"
        '<p class="muted">Every code the sandbox "sent", newest first. '
        "This page refreshes itself every 3 seconds. "
        'JSON: <a href="/sandbox/inbox">/sandbox/inbox</a>.</p>'
        + _back_link(engine.config.site_url)
        + "<table><thead><tr><th>#</th><th>Sent (UTC)</th><th>Channel</th>"
        "<th>To</th><th>Code</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return _PAGE.format(
        title="kod.mobi sandbox inbox",
        refresh='<meta http-equiv="refresh" content="3">',
        content=content,
    )


def _back_link(site_url: str) -> str:
    if not site_url:
        return ""
    return f'<p><a href="{escape(site_url)}">← Back to the site</a></p>'


#: What people type inside a phone number: dropped before it is looked up.
_PHONE_SEPARATORS = str.maketrans("", "", " -().\u00a0")


def as_stored(typed: str) -> str:
    """A destination as the sandbox stores it, from what a person typed:
    ``+7 (999) 123-45-67`` is ``+79991234567``, ``Anna@Example.com`` is
    ``anna@example.com``."""
    text = typed.strip()
    if "@" in text:
        return text.lower()
    return text.translate(_PHONE_SEPARATORS)


def _connect_page(engine: SandboxControls, channel: str, to: str) -> str:
    name = engine.config.channel_name(channel)
    if to:
        to = as_stored(to)
        engine.project.connect(to, channel)
        content = (
            f"<h1>Connected to {escape(name)}</h1>"
            f"<p>{escape(to)} now receives codes through {escape(name)} in this "
            "sandbox. Go back and send the code again.</p>"
        )
    else:
        content = (
            f"<h1>Connect {escape(name)}</h1>"
            "<p>In real life this is the bot or chat a user opens once. "
            "Here, type the phone number (with its country code, as "
            "+7 999 123-45-67) or the email to connect.</p>"
            f'<form method="get" action="/sandbox/connect/{quote(channel)}">'
            '<label>Phone or email <input name="to" required></label> '
            "<button>Connect</button></form>"
        )
    return _PAGE.format(title=f"Connect {escape(name)}", refresh="", content=content)
