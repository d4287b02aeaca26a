"""Access tokens: the only module that touches python-jose.

ES256 only. The algorithm list is fixed, every registered claim is required,
the verification key is chosen by ``kid`` among the server's own keys, and the
header must say ``typ: at+jwt``. Anything else is simply "invalid".
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws, jwt
from jose.exceptions import JOSEError

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 10
_DECODE_OPTIONS = {
    "verify_signature": True,
    "verify_aud": True,
    "verify_iat": True,
    "verify_exp": True,
    "verify_nbf": True,
    "verify_iss": True,
    "verify_sub": True,
    "verify_jti": True,
    "verify_at_hash": False,
    "require_aud": True,
    "require_iat": True,
    "require_exp": True,
    "require_nbf": False,
    "require_iss": True,
    "require_sub": True,
    "require_jti": True,
    "require_at_hash": False,
    "leeway": LEEWAY_SECONDS,
}
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """Any reason a token is not accepted; the reason is not told to the client."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str
    public_pem: str


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    token_id: str
    issued_at: float
    expires_at: datetime
    # The session the token belongs to: a user's refresh-token family, or the secret a
    # service account's token was minted with (ends with that family or secret).
    session_id: str | None = None


def load_signing_key(private_pem: str, kid: str | None = None) -> SigningKey:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key must be an EC P-256 private key")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    if kid is None:
        digest = hashlib.sha256(public_pem.encode()).digest()
        kid = base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")
    return SigningKey(kid=kid, private_pem=private_pem, public_pem=public_pem)


class TokenService:
    """Issues and verifies access tokens with the server's keys (the first one signs)."""

    def __init__(
        self, keys: list[SigningKey], *, issuer: str, audience: str, ttl_seconds: int
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.keys = {key.kid: key for key in keys}
        self.current = keys[0]
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        # Digest of a token that verified -> its claims. Verifying an ES256 signature costs
        # ~0.2 ms; the same bytes give the same answer, so each token is checked once per
        # process and then only its expiry. Keyed by digest so no bearer token is kept.
        self._verified: dict[bytes, AccessClaims] = {}

    def issue(
        self, subject: str, *, session_id: str | None = None, now: datetime | None = None
    ) -> tuple[str, int]:
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            # Fractional on purpose (RFC 7519 NumericDate): logout compares at microseconds.
            "iat": round(issued.timestamp(), 6),
            "exp": int(issued.timestamp()) + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if session_id is not None:
            claims["sid"] = session_id
        token = jwt.encode(
            claims,
            self.current.private_pem,
            algorithm=ALGORITHM,
            headers={"kid": self.current.kid, "typ": TOKEN_TYPE},
        )
        return token, self.ttl_seconds

    def verify(self, token: str) -> AccessClaims:
        digest = hashlib.blake2b(token.encode(), digest_size=32).digest()
        claims = self._verified.get(digest)
        if claims is None:
            claims = self._verify_signed(token)
            while len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]  # the oldest entry
            self._verified[digest] = claims
        if claims.expires_at.timestamp() + LEEWAY_SECONDS < time.time():
            self._verified.pop(digest, None)
            raise InvalidToken
        return claims

    def _verify_signed(self, token: str) -> AccessClaims:
        try:
            header = jws.get_unverified_header(token)
        except JOSEError as exc:
            raise InvalidToken from exc
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            raise InvalidToken
        key = self.keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidToken
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_pem,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options=_DECODE_OPTIONS,
            )
        except (JOSEError, ValueError, TypeError) as exc:
            raise InvalidToken from exc
        subject, token_id = claims.get("sub"), claims.get("jti")
        issued, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(subject, str) or not isinstance(token_id, str):
            raise InvalidToken
        if not isinstance(exp, int) or not isinstance(issued, int | float):
            raise InvalidToken
        session_id = claims.get("sid")
        if session_id is not None and not isinstance(session_id, str):
            raise InvalidToken
        return AccessClaims(subject, token_id, issued, datetime.fromtimestamp(exp, UTC), session_id)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for key in self.keys.values():
            entry = jwk.construct(key.public_pem, ALGORITHM).to_dict()
            entry.update({"kid": key.kid, "use": "sig", "alg": ALGORITHM})
            keys.append(entry)
        return {"keys": keys}


def new_opaque_token() -> str:
    """A refresh token or client secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """Opaque tokens are stored as SHA-256: they carry 256 bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
