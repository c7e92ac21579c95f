"""The channels a person can get a code on, and how long each must wait."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.utils.translation import gettext_lazy as _

from django_kodmobi import clock, guards, soft_cache
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
    "in_our_words",
    "remember_session_channels",
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


def get_channels(
    session: OTPSession | None = None, *, recent: bool = False
) -> tuple[SessionChannel, ...]:
    """The channels kod.mobi offers for ``session``, or the project's.

    The project's list changes rarely, so it is cached for
    ``KODMOBI["CHANNELS_CACHE_SECONDS"]``, and a failure to get it for
    ``CHANNELS_FAILURE_CACHE_SECONDS``, so that login pages do not wait on
    kod.mobi while it is down. A session's list changes by the second (a
    messenger connected, a countdown over): it is asked for each time,
    unless ``recent`` accepts kod.mobi's last word on it from the past
    ``SESSION_CHANNELS_CACHE_SECONDS`` (:func:`remember_session_channels`),
    as the code page does right after a start.

    :raises VerificationError: ``expired`` or ``kodmobi_unavailable``.
    """
    language = kodmobi_language()
    if session is None:
        return _project_channels(language)
    if recent:
        kept = _recent_session_channels(session.kodmobi_session_id, language)
        if kept is not None:
            return in_our_words(SessionChannel.from_payload(item) for item in kept)
    try:
        channels = _ask(session.kodmobi_session_id, language, session)
    except KodMobiError as exc:
        raise upstream.failure_for(exc) from exc
    remember_session_channels(session.kodmobi_session_id, channels, language)
    return in_our_words(channels)


def _project_channels(language: str) -> tuple[SessionChannel, ...]:
    key = f"kodmobi:channels:{language}"
    cached = soft_cache.get(key)
    if cached == _DOWN:
        raise VerificationError(
            Failure.UNAVAILABLE, retry_after=settings.CHANNELS_FAILURE_CACHE_SECONDS
        )
    if cached is not None:
        return in_our_words(SessionChannel.from_payload(item) for item in cached)
    try:
        channels = _ask(None, language)
    except KodMobiError as exc:
        soft_cache.set(key, _DOWN, settings.CHANNELS_FAILURE_CACHE_SECONDS)
        raise upstream.failure_for(exc) from exc
    soft_cache.set(
        key, [dict(c.raw) for c in channels], settings.CHANNELS_CACHE_SECONDS
    )
    return in_our_words(channels)


def _ask(
    kodmobi_session_id: str | None, language: str, flow: OTPSession | None = None
) -> tuple[SessionChannel, ...]:
    return upstream.call(
        lambda kodmobi: kodmobi.get_channels(kodmobi_session_id, language=language),
        flow=flow,
    )


def remember_session_channels(
    kodmobi_session_id: str,
    channels: tuple[SessionChannel, ...],
    language: str | None = None,
) -> None:
    """Keep kod.mobi's channel list for a session (from any reply that
    carries it) for the pages that follow at once.

    Countdowns are dropped: they run on, and the flow's own cooldowns
    (``channel_waits``) hold them. A channel that was counting down reached
    the person, so it is kept usable.
    """
    key = _session_key(kodmobi_session_id, language or kodmobi_language())
    kept = [
        {**c.raw, "is_active": c.is_active or c.timeout > 0, "timeout": 0}
        for c in channels
    ]
    ttl = settings.SESSION_CHANNELS_CACHE_SECONDS
    soft_cache.set(key, {"at": clock.epoch(), "channels": kept}, ttl)


def _recent_session_channels(
    kodmobi_session_id: str, language: str
) -> list[Any] | None:
    """The list :func:`remember_session_channels` kept, while it is recent by
    this app's clock (the cache's own expiry is only a backstop)."""
    kept = soft_cache.get(_session_key(kodmobi_session_id, language))
    if not isinstance(kept, dict):
        return None
    age = clock.epoch() - float(kept.get("at", 0))
    if not 0 <= age < settings.SESSION_CHANNELS_CACHE_SECONDS:
        return None
    channels = kept.get("channels")
    return channels if isinstance(channels, list) else None


def _session_key(kodmobi_session_id: str, language: str) -> str:
    return f"kodmobi:session-channels:{kodmobi_session_id}:{language}"


def channel_name(channel_type: str) -> str:
    """The name of a channel type for people, in the page's language."""
    return str(_NAMES.get(channel_type, channel_type))


def in_our_words(channels: Iterable[SessionChannel]) -> tuple[SessionChannel, ...]:
    """``channels`` with this app's names and descriptions, in the request's
    language, for the channel types it knows: every reply names a channel
    the same way, whichever kod.mobi call it came from."""
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
