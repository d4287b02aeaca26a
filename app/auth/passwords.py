"""Password hashing with argon2id (pwdlib)."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHash((Argon2Hasher(),))
# Verified against when the account does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("berdaya-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-work check: an unknown account still pays for one argon2 verification."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    return _hasher.verify(password, password_hash)
