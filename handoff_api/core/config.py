"""The service's one settings object, read from the environment (and `.env`)."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    helpdesk_data_dir: Path = Path("var")
    helpdesk_port: int = 8000
    helpdesk_host: str = "127.0.0.1"
    database_url: str | None = None
    # SQLite: how long a write waits for the write lock before its request answers 503 (Retry-After).
    helpdesk_sqlite_busy_timeout_seconds: float = 30.0
    # Keys the token hashes: a stolen database alone does not let anyone sign in.
    # Unset, a random key is generated once under the data dir.
    helpdesk_secret_key: str | None = None
    helpdesk_demo: bool = False
    # Personal data is kept this many days (0: for ever): conversations whose handoffs were all resolved
    # longer ago are erased (the handoffs' figures stay), with old verifications, searches and mail, and
    # Rasa's rows of them (RASA_EVENTS_DB_URL). Checked every hour by one worker.
    helpdesk_retention_days: int = Field(default=365, ge=0)
    # Addresses whose X-Forwarded-For / X-Forwarded-Proto `helpdesk serve` believes (the reverse proxy's;
    # "*" when only the proxy can reach the service, as in docker-compose.yml). The client address they
    # give is what per-address limits (failed sign-ins) count; believed from nobody else.
    helpdesk_trusted_proxies: str = "127.0.0.1"
    # How often an open event stream checks that its token still works (revoked, rotated: the stream ends).
    helpdesk_stream_token_recheck_seconds: float = Field(default=10.0, gt=0)
    # `/metrics` answers only with `Authorization: Bearer <this>` (Prometheus: `authorization.credentials`).
    # Unset: open in demo mode, off (404) otherwise: queue figures are not for the whole internet.
    helpdesk_metrics_token: str | None = None
    helpdesk_public_url: str | None = None
    # Articles imported on the very first start; empty string: start with an empty knowledge base.
    helpdesk_kb_seed_dir: Path | None = None
    # Build the search index at start-up (off: on the first search; tests that never search skip it).
    helpdesk_kb_warm_start: bool = True

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    # Where the service reads Rasa's events (customer messages while an engineer holds the chat):
    # "sql", Rasa's SQL event broker table (RASA_EVENTS_DB_URL), or "rabbitmq", Rasa's pika event broker
    # (endpoints.yml `event_broker: type: pika`; handoff_api/rasa/amqp_broker.py).
    helpdesk_event_broker: Literal["sql", "rabbitmq"] = "sql"
    # Rasa's SQL event broker database: the SQL broker's source, and what the daily report counts bot
    # conversations from. With RabbitMQ, point it at Rasa's SQL tracker store (its `events` table has the
    # same `sender_id` and `data` columns) to keep that figure.
    rasa_events_db_url: str | None = None
    broker_poll_seconds: float = 0.1
    # RabbitMQ: the broker (amqp:// or amqps://, credentials and vhost in the URL), the queue Rasa's
    # PikaEventBroker publishes to (one of its `queues`, the helpdesk's own) and its `exchange_name`.
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    rabbitmq_queue: str = "rasa_core_events"
    rabbitmq_exchange: str = "rasa-exchange"
    # A customer writing again within this many days reopens a handoff closed without a return to the bot.
    helpdesk_reopen_days: int = 7
    outbox_retry_max_seconds: float = 30.0
    # Conversations the outbox delivers to Rasa side by side (each conversation's messages stay in order).
    outbox_concurrency: int = Field(default=8, ge=1, le=256)

    max_request_bytes: int = 1_000_000
    helpdesk_cors_origins: list[str] = Field(default_factory=list)

    # --- Identity self-service for the bot (handoff_api/identity) -----------------------
    # Where accounts live: the built-in demo directory, or LDAP (ldap3).
    helpdesk_directory: Literal["demo", "ldap"] = "demo"
    ldap_url: str = "ldap://127.0.0.1:389"
    ldap_bind_dn: str = ""
    ldap_bind_password: str = ""
    ldap_base_dn: str = ""
    # An account is locked out while this attribute is present (OpenLDAP ppolicy's standard one);
    # unlocking deletes it.
    ldap_lock_attribute: str = "pwdAccountLockedTime"
    ldap_timeout_seconds: float = 5.0
    # StartTLS on ldap:// URLs (ldaps:// is TLS anyway); the certificate is checked against the system's
    # CAs, or LDAP_CA_FILE's.
    ldap_starttls: bool = True
    ldap_ca_file: Path | None = None
    # Where mail goes: the dev mailbox in the database (readable in demo mode only), or SMTP.
    helpdesk_mail: Literal["dev", "smtp"] = "dev"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "IT help desk <helpdesk@example.com>"
    # STARTTLS with the server's certificate checked against the system's CAs, or SMTP_CA_FILE's.
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    smtp_timeout_seconds: float = 10.0
    # An e-mail follow-up is mailed once the engineer's newest reply is this old: a few lines, one mail.
    helpdesk_followup_mail_quiet_seconds: float = Field(default=30.0, ge=0)
    # One-time codes: lifetime, wrong tries before self-service locks, how long it stays locked,
    # and how many codes one account may be sent per lockout window.
    otp_ttl_seconds: int = 600
    otp_max_attempts: int = 3
    otp_lockout_seconds: int = 1800
    otp_max_codes_per_window: int = 5
    # Where password-reset links point (the organisation's self-service password page).
    helpdesk_reset_url: str = "https://id.example.com/reset"
    reset_link_ttl_seconds: int = 3600

    # --- Operations (handoff_api/api/middleware): rate limits, in memory per worker ---------------------
    # A client address whose bearer tokens failed this many times within the window gets 429 + Retry-After.
    helpdesk_auth_failure_limit: int = 10
    helpdesk_auth_failure_window_seconds: float = 60.0
    # Requests per token per minute (sliding window); 0 turns the per-token limit off.
    helpdesk_token_rate_limit_per_minute: int = 1200
    # How long a worker remembers who a token belongs to (users/token_cache.py): a revocation or rotation made
    # by another process (the CLI) takes effect within this many seconds. 0: every request asks the database.
    helpdesk_token_cache_seconds: float = 5.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.helpdesk_data_dir / 'helpdesk.db').resolve()}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def events_db_url(self) -> str:
        if self.rasa_events_db_url:
            return self.rasa_events_db_url
        return f"sqlite:///{(self.helpdesk_data_dir / 'rasa_events.db').resolve()}"

    @property
    def public_url(self) -> str:
        """Where people reach the service (links to articles); behind a proxy set HELPDESK_PUBLIC_URL."""
        return (self.helpdesk_public_url or f"http://127.0.0.1:{self.helpdesk_port}").rstrip("/")

    def secret_key(self) -> str:
        if self.helpdesk_secret_key:
            return self.helpdesk_secret_key
        key_file = self.helpdesk_data_dir / "secret_key"
        self.helpdesk_data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two workers starting together agree on one key.
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()

    def unsafe_outside_demo(self) -> list[str]:
        """What makes these settings unfit to serve real customers, each with what to set instead.
        `helpdesk serve` refuses to start with any of them unless HELPDESK_DEMO is true."""
        problems = []
        secret = self.helpdesk_secret_key
        if secret is not None and (secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH):
            problems.append(
                f"HELPDESK_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters: set a "
                "random one (openssl rand -hex 32), or leave it unset to have one generated in the data dir"
            )
        if self.rasa_token and (
            self.rasa_token.lower() in PLACEHOLDER_SECRETS or len(self.rasa_token) < MIN_SECRET_LENGTH
        ):
            problems.append(
                f"RASA_TOKEN is a placeholder or shorter than {MIN_SECRET_LENGTH} characters: set a random "
                "one (openssl rand -hex 32), the same for Rasa's --auth-token"
            )
        if self.helpdesk_directory == "demo":
            problems.append(
                "HELPDESK_DIRECTORY is the demo directory (made-up people): set HELPDESK_DIRECTORY=ldap with "
                "LDAP_URL, LDAP_BIND_DN, LDAP_BIND_PASSWORD and LDAP_BASE_DN"
            )
        if self.helpdesk_mail == "dev":
            problems.append(
                "HELPDESK_MAIL is the dev mailbox (nothing is sent: codes, reset links and follow-ups never "
                "arrive): set HELPDESK_MAIL=smtp with SMTP_HOST, SMTP_PORT and SMTP_FROM"
            )
        return problems


# What .env.example and the docs show, and other obvious ones: never a working secret outside demo mode.
PLACEHOLDER_SECRETS = frozenset(
    {"a-long-random-string", "change-me", "change-me-too", "changeme", "secret", "password", "test"}
)
MIN_SECRET_LENGTH = 32


@lru_cache
def get_settings() -> Settings:
    return Settings()
