"""A software passkey for tests: it answers WebAuthn options as a platform
authenticator would, so a site's tests (and ours) can create passkeys and
log in by them without a browser. Needs the ``[passkeys]`` extra.

    passkey = SoftPasskey()
    options = client.post("/api/auth/passkeys/register/options/").json()
    client.post("/api/auth/passkeys/register/",
                {"credential": passkey.create(options)}, content_type=...)

It is the client side of the ceremony (what a phone or a browser does); the
server side, which this app runs, is py_webauthn's. Its knobs make the
answers a test needs to see refused: another origin or RP ID, no user
verification, a sign count that does not move.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.encode_cbor import encode_cbor

__all__ = ["SoftPasskey"]

_USER_PRESENT = 0x01
_USER_VERIFIED = 0x04
_ATTESTED_DATA = 0x40


@dataclass
class SoftPasskey:
    """One discoverable credential on one software authenticator."""

    origin: str = "http://localhost"
    #: The RP ID it signs for; by default the one the options name.
    rp_id: str | None = None
    user_verified: bool = True
    #: Count up on each use, as a security key does; False keeps it at 0,
    #: as synced passkeys do.
    counting: bool = True
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sign_count: int = 0
    user_handle: bytes = b""
    _key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()), repr=False
    )

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """The JSON of ``navigator.credentials.create()`` for ``options``."""
        public = options.get("publicKey", options)
        self.user_handle = base64url_to_bytes(public["user"]["id"])
        rp_id = self.rp_id or public["rp"]["id"]
        numbers = self._key.public_key().public_numbers()
        cose_key = encode_cbor(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = (
            bytes(16)  # AAGUID: none
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + cose_key
        )
        auth_data = self._auth_data(rp_id, _ATTESTED_DATA) + attested
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", public["challenge"])
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """The JSON of ``navigator.credentials.get()`` for ``options``."""
        public = options.get("publicKey", options)
        rp_id = self.rp_id or public["rpId"]
        if self.counting:
            self.sign_count += 1
        auth_data = self._auth_data(rp_id, 0)
        client_data = self._client_data("webauthn.get", public["challenge"])
        signature = self._key.sign(
            auth_data + hashlib.sha256(client_data).digest(),
            ec.ECDSA(hashes.SHA256()),
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(self.user_handle),
            },
        }

    def _auth_data(self, rp_id: str, extra_flags: int) -> bytes:
        flags = _USER_PRESENT | extra_flags
        if self.user_verified:
            flags |= _USER_VERIFIED
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self.sign_count)
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": self.origin,
                "crossOrigin": False,
            },
            separators=(",", ":"),
        ).encode()
