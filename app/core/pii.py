"""Personal-data cryptography, in one module a reviewer can audit alone.

* Encryption at rest: AES-256-GCM with a random 96-bit nonce. The field name is
  bound as associated data, so a NIK ciphertext cannot be replayed as a phone.
  Stored form: ``v1.<key id>.<base64url(nonce || ciphertext || tag)>``; the key id
  lets keys rotate: the first configured key encrypts, all configured keys decrypt.
* Lookup: an HMAC-SHA256 of the normalised value with a key of its own, so exact
  matches and uniqueness work without decrypting anything.
* Pseudonyms: ``person_key`` is an HMAC of the person's id with a third key, stable
  across exports and meaningless without that key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid
from dataclasses import dataclass, field
from typing import Annotated

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Request

FORMAT = "v1"


class PiiKeyError(ValueError):
    """A ciphertext names a key that is not configured, or fails authentication."""


def _decode_key(material: str) -> bytes:
    raw = base64.urlsafe_b64decode(material + "=" * (-len(material) % 4))
    if len(raw) != 32:
        raise ValueError("personal-data keys must be 32 bytes (base64url)")
    return raw


@dataclass(frozen=True)
class PiiCipher:
    keys: dict[str, bytes]
    current_kid: str

    @classmethod
    def from_config(cls, entries: list[str]) -> PiiCipher:
        """``entries`` are ``kid:base64key``; the first one encrypts new values."""
        if not entries:
            raise ValueError("at least one personal-data key is needed")
        keys: dict[str, bytes] = {}
        for entry in entries:
            kid, sep, material = entry.partition(":")
            if not sep or not kid or "." in kid:
                raise ValueError("each personal-data key must look like 'kid:base64key'")
            keys[kid] = _decode_key(material)
        return cls(keys=keys, current_kid=entries[0].partition(":")[0])

    def encrypt(self, plaintext: str, field: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current_kid]).encrypt(
            nonce, plaintext.encode(), field.encode()
        )
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT}.{self.current_kid}.{payload}"

    def decrypt(self, stored: str, field: str) -> str:
        try:
            version, kid, payload = stored.split(".", 2)
            key = self.keys[kid]
            if version != FORMAT:
                raise PiiKeyError("unknown ciphertext format")
            blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            return AESGCM(key).decrypt(blob[:12], blob[12:], field.encode()).decode()
        except (KeyError, ValueError, InvalidTag) as exc:
            raise PiiKeyError("cannot decrypt with the configured keys") from exc

    @staticmethod
    def key_id_of(stored: str) -> str:
        return stored.split(".", 2)[1]

    def needs_rotation(self, stored: str | None) -> bool:
        return stored is not None and self.key_id_of(stored) != self.current_kid


PERSON_KEYS_KEPT = 100_000


@dataclass(frozen=True)
class Hasher:
    """Keyed hashes: lookup digests of NIKs and pseudonymous person keys."""

    lookup_key: bytes
    pseudonym_key: bytes
    # person_key by id, kept: a list page computes 50 of them and an HMAC costs ~3 µs,
    # a look-up 0.2 µs (bench/run.py first pages). Pseudonyms only, never personal data.
    _person_keys: dict[uuid.UUID, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_config(cls, lookup_key: str, pseudonym_key: str) -> Hasher:
        return cls(lookup_key.encode(), pseudonym_key.encode())

    def lookup_digest(self, value: str, field: str) -> str:
        message = f"{field}:{value}".encode()
        return hmac.new(self.lookup_key, message, hashlib.sha256).hexdigest()

    def person_key(self, person_id: uuid.UUID) -> str:
        """``p_`` + 120 bits of HMAC-SHA256(id) in hex: one C call per row, so exports can
        afford it on every row."""
        key = self._person_keys.get(person_id)
        if key is None:
            if len(self._person_keys) >= PERSON_KEYS_KEPT:
                self._person_keys.clear()
            key = "p_" + hmac.digest(self.pseudonym_key, person_id.bytes, "sha256")[:15].hex()
            self._person_keys[person_id] = key
        return key

    def pseudonym_pads(self) -> tuple[str, str]:
        """The HMAC inner and outer pads of the pseudonym key (hex), so PostgreSQL can
        compute the same ``person_key`` with its built-in sha256 (RFC 2104) while the key
        itself never leaves this process. They are as secret as the key: the export sets
        them per transaction with ``set_config(..., is_local => true)``, never in SQL text."""
        key = self.pseudonym_key
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        inner = bytes(b ^ 0x36 for b in key)
        outer = bytes(b ^ 0x5C for b in key)
        return inner.hex(), outer.hex()


def mask(value: str, visible: int) -> str:
    """``************1234``: everything but the last ``visible`` characters hidden."""
    if len(value) <= visible:
        return "*" * len(value)
    return "*" * (len(value) - visible) + value[-visible:]


NIK_FIELD, PHONE_FIELD = "nik", "phone"


@dataclass(frozen=True)
class PersonalData:
    """The keys of one running app: the cipher of personal fields and the keyed hashes."""

    cipher: PiiCipher
    hasher: Hasher

    def nik_digest(self, nik: str) -> str:
        return self.hasher.lookup_digest(nik, NIK_FIELD)


async def personal_data(request: Request) -> PersonalData:
    """FastAPI dependency: the app's ``PersonalData`` (async: no thread hop)."""
    data: PersonalData = request.app.state.personal_data
    return data


PersonalDep = Annotated[PersonalData, Depends(personal_data)]
