"""Signals sent by the services, and only by them."""

from __future__ import annotations

from django.dispatch import Signal

#: A login flow began. Arguments: ``session`` (OTPSession).
session_created = Signal()

#: kod.mobi sent a code. Arguments: ``session``, ``channel`` (str),
#: ``resend`` (bool).
code_sent = Signal()

#: A wrong code was entered. Arguments: ``session``, ``attempts_left`` (int),
#: ``last_attempt`` (bool: no attempts are left).
code_rejected = Signal()

#: Too many wrong codes locked the session. Arguments: ``session``.
session_locked = Signal()

#: The code was right and kod.mobi confirmed the destination. Arguments:
#: ``session``.
session_verified = Signal()

#: A user was created on first login. Arguments: ``user``, ``session``,
#: ``request`` (may be None).
user_signed_up = Signal()

#: kod.mobi reported how a manual delivery ended (delivered or failed).
#: Arguments: ``delivery`` (ManualDelivery).
code_delivery_finished = Signal()

#: A user added a phone or email (not yet verified). Arguments: ``user``,
#: ``contact`` (Contact). Sender: Contact.
contact_added = Signal()

#: A user proved a phone or email with a code. Arguments: ``user``,
#: ``contact``. Sender: Contact.
contact_verified = Signal()

#: A user removed a phone or email. Arguments: ``user``, ``contact``.
#: Sender: Contact.
contact_removed = Signal()

#: A user created a passkey. Arguments: ``user``, ``passkey`` (Passkey),
#: ``request``. Sender: Passkey.
passkey_registered = Signal()

#: A user removed a passkey. Arguments: ``user``, ``passkey`` (Passkey, no
#: longer saved). Sender: Passkey.
passkey_removed = Signal()
