"""The sandbox project's configuration: keys, channels, code format, limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CHANNEL_NAMES",
    "DEFAULT_PUBLIC_KEY",
    "DEFAULT_SECRET_KEY",
    "SandboxConfig",
    "TEST_DESTINATIONS",
    "TEST_DESTINATION_BLOCKED",
]

#: Well-known sandbox keys, UUID-shaped like real ones. Anyone can read them
#: here: the sandbox guards nothing, the keys only exercise the key handling.
DEFAULT_PUBLIC_KEY = "11111111-1111-4111-8111-111111111111"
DEFAULT_SECRET_KEY = "22222222-2222-4222-8222-222222222222"  # noqa: S105

CHANNEL_NAMES: Mapping[str, str] = {
    "telegram": "Telegram",
    "whatsapp": "Whatsapp",
    "sms": "SMS",
    "email": "Email",
}

#: Phones that behave the same in every sandbox, as Stripe's test cards do,
#: so that the docs' examples work as written. Any other phone is reachable
#: on WhatsApp and SMS, and on Telegram once its bot is opened.
TEST_DESTINATIONS: Mapping[str, frozenset[str]] = {
    # kod.mobi's docs' own number: its bot is open, every channel reaches it.
    "+79991234567": frozenset({"telegram", "whatsapp", "sms"}),
    # Only SMS reaches it: a person with no messenger.
    "+79990000100": frozenset({"sms"}),
}
#: Always blocked, as if 15 wrong codes had just been typed (``ERROR_PHONE_BLOCKED``).
TEST_DESTINATION_BLOCKED = "+79990000900"


def _test_destinations() -> dict[str, frozenset[str]]:
    return dict(TEST_DESTINATIONS)


_DESCRIPTIONS: Mapping[str, str] = {
    "telegram": "Code in a message from the sandbox Telegram bot",
    "whatsapp": "Code in a WhatsApp message",
    "sms": "Code in a text message",
    "email": "Code in an email",
}


@dataclass
class SandboxConfig:
    """Everything that makes one sandbox project differ from another.

    ``users`` maps a destination (E.164 phone or email) to the channels it is
    reachable on; destinations not listed get ``phone_channels`` or
    ``email_channels``. ``sms_blocked_prefixes`` lists E.164 prefixes
    (``"+44"``) where SMS is not allowed.
    """

    public_key: str = DEFAULT_PUBLIC_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    project_name: str = "kod.mobi sandbox"
    #: The project's channels, in the order kod.mobi prefers them.
    channels: tuple[str, ...] = ("telegram", "whatsapp", "sms", "email")
    #: Where a phone is reachable until told otherwise. Telegram is not: as in
    #: kod.mobi's docs, a person must open the bot first (its "connect" link,
    #: here a sandbox page that does just that).
    phone_channels: frozenset[str] = frozenset({"whatsapp", "sms"})
    email_channels: frozenset[str] = frozenset({"email"})
    users: dict[str, frozenset[str]] = field(default_factory=_test_destinations)
    #: Destinations always blocked, as if 15 wrong codes had just been typed.
    blocked: tuple[str, ...] = (TEST_DESTINATION_BLOCKED,)
    sms_blocked_prefixes: tuple[str, ...] = ()
    #: A bot link to show instead of the sandbox's own "connect" page.
    telegram_bot_link: str = ""
    code_length: int = 6
    code_letters: bool = False
    #: Every session gets this code (for demos and browser tests), if set.
    fixed_code: str = ""
    session_ttl: int = 180
    channel_timeout: int = 60
    max_wrong_codes: int = 5
    #: Wrong codes for one destination, across its sessions, after which it
    #: is blocked (ERROR_PHONE_BLOCKED) for ``destination_block_seconds``.
    destination_max_wrong_codes: int = 15
    destination_block_seconds: int = 3600
    #: The account is out of money: sending answers ERROR_WRONG_BALANCE.
    balance_empty: bool = False
    challenge_enabled: bool = False
    challenge_header: str = "X-CF-TURNSTILE-TOKEN"
    challenge_provider: str = "turnstile"
    challenge_site_key: str = "sandbox-challenge-site-key"
    #: The only token the sandbox's fake CAPTCHA accepts.
    challenge_token: str = "sandbox-challenge-pass"  # noqa: S105
    #: Seconds from accepting a manual message to its delivery.
    manual_delivery_seconds: float = 1.0
    #: Print each delivered message to the console.
    echo: bool = True
    #: The site using this sandbox: its inbox page links back there.
    site_url: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.channels) - set(CHANNEL_NAMES)
        if unknown:
            raise ValueError(f"unknown channel types: {', '.join(sorted(unknown))}")
        if not 4 <= self.code_length <= 8:
            raise ValueError("code_length must be between 4 and 8")
        if self.fixed_code and len(self.fixed_code) != self.code_length:
            raise ValueError("fixed_code must be code_length characters long")
        if min(self.session_ttl, self.channel_timeout, self.max_wrong_codes) < 1:
            raise ValueError("session_ttl, channel_timeout and max_wrong_codes >= 1")
        if not self.public_key or not self.secret_key:
            raise ValueError("the sandbox needs a public and a secret key")
        if self.public_key == self.secret_key:
            raise ValueError("the public and secret keys must differ")

    @staticmethod
    def channel_name(channel: str) -> str:
        return CHANNEL_NAMES.get(channel, channel)

    @staticmethod
    def channel_description(channel: str) -> str:
        return _DESCRIPTIONS.get(channel, "")
