"""One Settings class for the whole service, and the bootstrap of secrets.

Secrets that are not given (the ES256 signing key, the personal-data keys) are
generated on first start into ``<data_dir>/secrets`` with mode 0600 and reused
afterwards; in production a missing secret is a startup error instead.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(RuntimeError):
    """Raised at startup when the configuration cannot work."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERDAYA_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "BERDAYA_DATABASE_URL")
    )
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000

    # Pool: bounded so a burst waits briefly, then answers 503 instead of hanging. No
    # overflow: under steady load above the pool size, overflow connections are opened
    # and closed continuously (measured: ~100 new sessions in 8 s, 5-10 % fewer req/s).
    # ``db_max_connections`` (all workers of this instance together; ``berdaya serve``
    # tells each worker how many there are) sizes each worker's pool instead of
    # ``db_pool_size``. bench/run.py prints the sessions opened during each run.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_max_connections: int | None = Field(default=None, ge=1)
    workers: int = Field(default=1, ge=1)
    db_pool_timeout_seconds: float = 5.0
    db_statement_timeout_ms: int = 30_000
    # The longest a request waits on the database at a time (connecting, each statement,
    # each piece of a streamed export) before it answers 503: a frozen server cannot hang it.
    db_request_timeout_seconds: float = Field(default=5.0, gt=0)

    # Beyond one machine (API.md §9, docs/scaling.md). Exports and reports read on the
    # streaming replica when one is given, and on the primary when it is unreachable or
    # lags more than the limit.
    database_replica_url: str | None = None
    replica_max_lag_seconds: float = Field(default=30.0, gt=0)
    # What needs a session of its own (migrations, LISTEN): straight to PostgreSQL when
    # DATABASE_URL goes through a pooler in transaction mode. Defaults to DATABASE_URL.
    database_direct_url: str | None = None
    # DATABASE_URL (and the replica's) is a PgBouncer in transaction mode: no kept
    # server-side prepared statements, no session settings in the startup packet (set
    # statement_timeout on the role instead: docs/scaling.md).
    database_pgbouncer: bool = False
    # `berdaya serve` applies migrations before serving. Off where a migration job runs
    # them once before a rollout (deploy/kubernetes): a server then stays unready
    # (/readyz 503) until the schema is at its head.
    migrate_on_start: bool = True

    jwt_issuer: str = "berdaya"
    jwt_audience: str = "berdaya-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # PEM of the current ES256 private key; older keys may stay in ``jwt_extra_public_keys``.
    jwt_private_key: str | None = None
    jwt_key_id: str | None = None

    # Personal-data keys: "kid:base64key" entries, the first one encrypts.
    pii_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    pii_hmac_key: str | None = None
    pseudonym_key: str | None = None

    admin_email: str | None = None
    admin_password: str | None = None

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 10 * 1024 * 1024
    # A request body must have arrived this long after the app starts reading it (408).
    body_timeout_seconds: float = Field(default=10.0, gt=0)

    # Login throttling (SECURITY.md): one account from one address, one address over every
    # account, one account from every address (a ceiling well above the first).
    login_max_failures_per_account_address: int = 5
    login_max_failures_per_account: int = 100
    login_max_failures_per_address: int = 20
    login_window_seconds: int = 900
    # NIK collisions (SECURITY.md "NIK collisions"): a caller who cannot look every NIK up
    # gets 429 for any NIK given after this many "already registered" answers in an hour.
    nik_collisions_per_hour: int = Field(default=5, ge=1)

    idempotency_ttl_seconds: int = 24 * 3600
    # After a service account's secret is rotated, the old one works this long.
    service_account_rotation_grace_seconds: int = 3600
    # Requests per minute per partner service account (0 disables the limit).
    partner_rate_limit_per_minute: int = 600
    # Webhooks (API.md §7). `external`: `berdaya serve` runs no dispatcher (run
    # `berdaya dispatch` instead). Insecure: plain http and private/loopback targets
    # allowed (development and tests only).
    dispatcher: Literal["inprocess", "external"] = "inprocess"
    webhook_allow_insecure: bool = False
    # A claimed delivery is another dispatcher's to take once its lease has run out (a
    # dispatcher that died mid-delivery); longer than the 10 s request timeout.
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_poll_seconds: float = Field(default=5.0, gt=0)
    # Field sync (API.md §6): the change log is kept this long (older cursors: 410
    # sync-reset) and device mutations this long (a retry within it is a duplicate);
    # `berdaya sync-purge` drops what is older.
    sync_change_retention_days: int = Field(default=180, ge=180)
    sync_mutation_retention_days: int = Field(default=45, ge=30)
    log_level: str = "INFO"
    docs_enabled: bool = True

    @field_validator("cors_origins", "pii_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("BERDAYA_CORS_ORIGINS must list origins; '*' is refused")
        return value

    @property
    def direct_database_url(self) -> str | None:
        """Where migrations and LISTEN connect: never through a transaction-mode pooler."""
        return self.database_direct_url or self.database_url

    @property
    def worker_pool_size(self) -> int:
        """Connections one worker's pool keeps: the instance's budget shared by its
        workers when ``db_max_connections`` is set, else ``db_pool_size``."""
        if self.db_max_connections is None:
            return self.db_pool_size
        return max(2, self.db_max_connections // self.workers)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def ensure_secrets(self) -> None:
        """Fill missing secrets from the data folder, generating them on first start."""
        missing = [
            name
            for name, value in (
                ("BERDAYA_JWT_PRIVATE_KEY", self.jwt_private_key),
                ("BERDAYA_PII_KEYS", self.pii_keys),
                ("BERDAYA_PII_HMAC_KEY", self.pii_hmac_key),
                ("BERDAYA_PSEUDONYM_KEY", self.pseudonym_key),
            )
            if not value
        ]
        if not missing:
            return
        if self.is_production:
            raise ConfigError(f"missing secrets in production: {', '.join(missing)}")
        if not self.jwt_private_key:
            self.jwt_private_key = _read_or_create(self.secrets_dir / "jwt-es256.pem", _new_ec_pem)
        if not self.pii_keys:
            self.pii_keys = [_read_or_create(self.secrets_dir / "pii-keys", _new_pii_key)]
        if not self.pii_hmac_key:
            self.pii_hmac_key = _read_or_create(self.secrets_dir / "pii-hmac", _new_secret)
        if not self.pseudonym_key:
            self.pseudonym_key = _read_or_create(self.secrets_dir / "pseudonym", _new_secret)


def _new_ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _new_pii_key() -> str:
    return f"k{secrets.token_hex(4)}:{_new_secret()}"


def _read_or_create(path: Path, make: object) -> str:
    """Return the secret stored at ``path``; create it with mode 0600 if absent."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()  # type: ignore[operator]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(value))
    return str(value)


@lru_cache
def get_settings() -> Settings:
    return Settings()
