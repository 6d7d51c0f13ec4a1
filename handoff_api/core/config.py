"""The service's one settings object, read from the environment (and `.env`)."""

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    helpdesk_data_dir: Path = Path("var")
    helpdesk_port: int = 8000
    helpdesk_host: str = "127.0.0.1"
    database_url: str | None = None
    # Keys the token hashes: a stolen database alone does not let anyone sign in.
    # Unset, a random key is generated once under the data dir.
    helpdesk_secret_key: str | None = None
    helpdesk_demo: bool = False

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    # Rasa's SQL event broker database; the service consumes customer messages from it.
    rasa_events_db_url: str | None = None
    broker_poll_seconds: float = 0.1
    outbox_retry_max_seconds: float = 30.0

    max_request_bytes: int = 1_000_000
    max_message_chars: int = 4000
    helpdesk_cors_origins: list[str] = Field(default_factory=list)

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
