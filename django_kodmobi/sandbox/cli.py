"""``python -m django_kodmobi.sandbox``: run the sandbox on loopback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .config import (
    CHANNEL_NAMES,
    DEFAULT_PUBLIC_KEY,
    DEFAULT_SECRET_KEY,
    TEST_DESTINATION_BLOCKED,
    TEST_DESTINATIONS,
    SandboxConfig,
)
from .engine import SandboxEngine
from .server import SandboxServer

__all__ = ["add_arguments", "config_from_options", "main"]


def _user(value: str) -> tuple[str, frozenset[str]]:
    to, sep, channels = value.partition("=")
    names = frozenset(c.strip() for c in channels.split(",") if c.strip())
    if not sep or not to or not names <= set(CHANNEL_NAMES):
        raise argparse.ArgumentTypeError(
            f"expected DESTINATION=channel[,channel...], got {value!r}"
        )
    return to, names


def _channels(value: str) -> tuple[str, ...]:
    names = tuple(c.strip() for c in value.split(",") if c.strip())
    if not set(names) <= set(CHANNEL_NAMES):  # none is allowed: "" says so
        raise argparse.ArgumentTypeError(f"channels are {', '.join(CHANNEL_NAMES)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to ``parser`` (shared with the management command)."""
    env = os.environ
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=8765,
        help="port (default: %(default)s; 0 picks one)",
    )
    parser.add_argument(
        "--public-key",
        default=env.get("KODMOBI_PUBLIC_KEY") or DEFAULT_PUBLIC_KEY,
        help="public API key (default: $KODMOBI_PUBLIC_KEY, else the sandbox's well-known key)",
    )
    parser.add_argument(
        "--secret-key",
        default=env.get("KODMOBI_SECRET_KEY") or DEFAULT_SECRET_KEY,
        help="secret API key (default: $KODMOBI_SECRET_KEY, else the sandbox's well-known key)",
    )
    parser.add_argument(
        "--project-name",
        default="kod.mobi sandbox",
        help="project name in the settings reply",
    )
    parser.add_argument(
        "--channels",
        type=_channels,
        default=("telegram", "whatsapp", "sms", "email"),
        help='the project\'s channels in preference order (default: telegram,whatsapp,sms,email; "" for none: ERROR_PROJECT_HAS_NO_CHANNELS)',
    )
    parser.add_argument(
        "--user",
        action="append",
        type=_user,
        default=[],
        metavar="DEST=CHANNELS",
        help="channels one destination is reachable on, e.g. +79990000001=sms (repeatable); others as --phone-channels says, emails on email",
    )
    parser.add_argument(
        "--phone-channels",
        type=_channels,
        default=("whatsapp", "sms"),
        metavar="CHANNELS",
        help="where a phone not named by --user is reachable until its bot is opened (default: whatsapp,sms)",
    )
    parser.add_argument(
        "--block",
        action="append",
        default=[],
        metavar="DEST",
        help="a destination always refused with ERROR_PHONE_BLOCKED, as after 15 wrong codes (repeatable; +79990000900 always is)",
    )
    parser.add_argument(
        "--balance-empty",
        action="store_true",
        help="the account is out of money: every send answers ERROR_WRONG_BALANCE",
    )
    parser.add_argument(
        "--sms-blocked-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="E.164 prefix where SMS is not allowed, e.g. +44 (repeatable)",
    )
    parser.add_argument(
        "--telegram-bot-link",
        default="",
        help="link shown for Telegram instead of the sandbox's connect page",
    )
    parser.add_argument(
        "--code-length",
        type=int,
        default=6,
        help="code length, 4 to 8 (default: %(default)s)",
    )
    parser.add_argument(
        "--letters", action="store_true", help="codes contain letters as well as digits"
    )
    parser.add_argument(
        "--fixed-code",
        default="",
        help="give every session this code (demos, browser tests)",
    )
    parser.add_argument(
        "--session-ttl",
        type=int,
        default=180,
        help="session lifetime in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--channel-timeout",
        type=int,
        default=60,
        help="seconds before a channel may send again (default: %(default)s)",
    )
    parser.add_argument(
        "--max-wrong-codes",
        type=int,
        default=5,
        help="wrong codes that block a session (default: %(default)s)",
    )
    parser.add_argument(
        "--challenge",
        action="store_true",
        help="require the CAPTCHA token on create, send and check",
    )
    parser.add_argument(
        "--challenge-header",
        default="X-CF-TURNSTILE-TOKEN",
        help="header carrying the CAPTCHA token (default: %(default)s)",
    )
    parser.add_argument(
        "--challenge-token",
        default="sandbox-challenge-pass",
        help="the token the fake CAPTCHA accepts (default: %(default)s)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not print delivered codes to the console",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every HTTP request"
    )
    parser.add_argument(
        "--site-url",
        default="",
        help="the site using the sandbox: the inbox page links back to it",
    )


def config_from_options(options: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(
        public_key=options.public_key,
        secret_key=options.secret_key,
        project_name=options.project_name,
        channels=tuple(options.channels),
        users={**TEST_DESTINATIONS, **dict(options.user)},
        blocked=(TEST_DESTINATION_BLOCKED, *options.block),
        phone_channels=frozenset(options.phone_channels),
        balance_empty=options.balance_empty,
        sms_blocked_prefixes=tuple(options.sms_blocked_prefix),
        telegram_bot_link=options.telegram_bot_link,
        code_length=options.code_length,
        code_letters=options.letters,
        fixed_code=options.fixed_code,
        session_ttl=options.session_ttl,
        channel_timeout=options.channel_timeout,
        max_wrong_codes=options.max_wrong_codes,
        challenge_enabled=options.challenge,
        challenge_header=options.challenge_header,
        challenge_token=options.challenge_token,
        echo=not options.quiet,
        site_url=options.site_url,
    )


def startup_banner(url: str, config: SandboxConfig) -> str:
    """Where the sandbox is, and the settings that point Django at it. The
    keys are the sandbox's own, public by design: no real key is printed."""
    return (
        f"kod.mobi sandbox on {url}  (inbox: {url}/sandbox/)\n"
        "Point your site at it with these environment variables:\n"
        f"  KODMOBI_API_URL={url}\n"
        f"  KODMOBI_PUBLIC_KEY={config.public_key}\n"
        f"  KODMOBI_SECRET_KEY={config.secret_key}"
    )


def serve(options: argparse.Namespace) -> None:
    """Build the sandbox from ``options`` and serve until interrupted."""
    config = config_from_options(options)
    server = SandboxServer(
        SandboxEngine(config),
        host=options.host,
        port=options.port,
        access_log=options.access_log,
    )
    print(startup_banner(server.url, config), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m django_kodmobi.sandbox",
        description="A local kod.mobi: the session and manual APIs under "
        "/session/*, /v2/* and /manual/*, an inbox at /sandbox/, faults at "
        "/sandbox/faults. No account, no network.",
    )
    add_arguments(parser)
    options = parser.parse_args(argv)
    try:
        serve(options)
    except ValueError as exc:
        parser.error(str(exc))
    return 0
