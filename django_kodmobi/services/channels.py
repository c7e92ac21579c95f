"""The channels a person can get a code on, and how long each must wait."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from django_kodmobi import clock, guards
from django_kodmobi.client import KodMobiError, SessionChannel
from django_kodmobi.conf import settings
from django_kodmobi.exceptions import Failure, VerificationError
from django_kodmobi.models import OTPSession
from django_kodmobi.provider import kodmobi_language

from . import upstream

__all__ = [
    "ChannelCard",
    "channel_cards",
    "channel_name",
    "channel_waits",
    "get_channels",
]

#: Cached in place of the project's channel list while kod.mobi is down.
_DOWN = "down"

#: How this app names the channels it knows, in the page's language, whatever
#: kod.mobi calls them; a channel it adds later keeps kod.mobi's own words.
_NAMES = {
    "telegram": _("Telegram"),
    "whatsapp": _("WhatsApp"),
    "sms": _("SMS"),
    "email": _("Email"),
}
_DESCRIPTIONS = {
    "telegram": _("Code in a message from our Telegram bot"),
    "whatsapp": _("Code in a WhatsApp message"),
    "sms": _("Code in a text message"),
    "email": _("Code in an email"),
}


def get_channels(session: OTPSession | None = None) -> tuple[SessionChannel, ...]:
    """The channels kod.mobi offers for ``session``, or the project's.

    The project's list changes rarely, so it is cached for
    ``KODMOBI["CHANNELS_CACHE_SECONDS"]``, and a failure to get it for
    ``CHANNELS_FAILURE_CACHE_SECONDS``, so that login pages do not wait on
    kod.mobi while it is down. A session's list is always fresh (its
    activity and timeouts change by the second).

    :raises VerificationError: ``expired`` or ``kodmobi_unavailable``.
    """
    language = kodmobi_language()
    key = f"kodmobi:channels:{language}"
    if session is None:
        cached = cache.get(key)
        if cached == _DOWN:
            raise VerificationError(
                Failure.UNAVAILABLE, retry_after=settings.CHANNELS_FAILURE_CACHE_SECONDS
            )
        if cached is not None:
            return _in_our_words(SessionChannel.from_payload(item) for item in cached)
    try:
        channels = upstream.call(
            lambda kodmobi: kodmobi.get_channels(
                session.kodmobi_session_id if session else None, language=language
            )
        )
    except KodMobiError as exc:
        if session is None:
            cache.set(key, _DOWN, settings.CHANNELS_FAILURE_CACHE_SECONDS)
        raise upstream.failure_for(exc) from exc
    if session is None:
        cache.set(key, [dict(c.raw) for c in channels], settings.CHANNELS_CACHE_SECONDS)
    return _in_our_words(channels)


def channel_name(channel_type: str) -> str:
    """The name of a channel type for people, in the page's language."""
    return str(_NAMES.get(channel_type, channel_type))


def _in_our_words(channels: Iterable[SessionChannel]) -> tuple[SessionChannel, ...]:
    return tuple(
        replace(c, name=str(_NAMES[c.type]), description=str(_DESCRIPTIONS[c.type]))
        if c.type in _NAMES
        else c
        for c in channels
    )


def channel_waits(session: OTPSession) -> dict[str, int]:
    """Seconds each channel must still wait before it may send again."""
    now = clock.epoch()
    return {
        channel: math.ceil(float(until) - now)
        for channel, until in (session.channel_cooldowns or {}).items()
        if float(until) > now
    }


@dataclass(frozen=True)
class ChannelCard:
    """A channel as a person sees it: can it send, and in how many seconds."""

    channel: SessionChannel
    #: Seconds before it may send again: the longer of kod.mobi's timeout
    #: and this app's own cooldown.
    wait: int

    @property
    def usable(self) -> bool:
        """Reachable. kod.mobi shows a channel that is counting down after a
        send as inactive: it reached the person, it only has to wait."""
        return self.channel.is_active or self.wait > 0


def channel_cards(
    session: OTPSession | None, channels: tuple[SessionChannel, ...]
) -> list[ChannelCard]:
    """The channels with their waits, for pages and API replies alike.

    A flow's cards are only the channels that can reach its identifier: no
    "Connect Email" for a phone, no SMS for an email address.
    """
    if session is None:
        return [ChannelCard(c, c.timeout) for c in channels]
    waits = channel_waits(session)
    return [
        ChannelCard(c, max(c.timeout, waits.get(c.type, 0)))
        for c in channels
        if guards.fits(session.identifier_kind, c.type)
    ]
