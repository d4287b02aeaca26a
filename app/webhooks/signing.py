"""Webhook secrets and Standard Webhooks 1.0 signatures (the `standardwebhooks` library).

A secret is ``whsec_`` + base64 of 32 random bytes, shown once to its owner and stored
only encrypted by the personal-data cipher (``app.core.pii``, field ``webhook_secret``):
a dump of the database cannot sign. During a rotation's overlap both the new and the
old secret sign, and the ``webhook-signature`` header carries both signatures (a
receiver accepts a delivery when any of them verifies).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

from app.core.pii import PiiCipher

SECRET_FIELD = "webhook_secret"
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def seal(cipher: PiiCipher, secret: str) -> str:
    return cipher.encrypt(secret, SECRET_FIELD)


def unseal(cipher: PiiCipher, stored: str) -> str:
    return cipher.decrypt(stored, SECRET_FIELD)


def headers(
    message_id: str, timestamp: datetime, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers of one delivery attempt."""
    signatures = " ".join(Webhook(s).sign(message_id, timestamp, body) for s in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "Berdaya-Webhooks/1.0",
    }
