"""Writes Rasa's effective credentials file: bot/credentials.yml plus the messengers configured by env.

    cd bot && python -m connectors.credentials --out "$HELPDESK_DATA_DIR/credentials.yml"

A messenger is on when its required variables are all set, off when none is; some but not all is an
error (exit status 2), so a typo does not silently leave a channel off. See docs/channels.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BASE = Path(__file__).resolve().parents[1] / "credentials.yml"


@dataclass(frozen=True)
class Messenger:
    name: str
    key: str  # the credentials.yml key: a Rasa channel name or a connector class path
    required: dict[str, str]  # credentials field -> environment variable
    optional: dict[str, str] = field(default_factory=dict)


MESSENGERS = (
    Messenger(
        "telegram",
        "connectors.messengers.TelegramInput",
        {
            "access_token": "TELEGRAM_ACCESS_TOKEN",
            "verify": "TELEGRAM_BOT_NAME",
            "webhook_url": "TELEGRAM_WEBHOOK_URL",
            # Registered with the webhook; Telegram sends it back with every update.
            "secret_token": "TELEGRAM_SECRET_TOKEN",
        },
    ),
    Messenger(
        "facebook",
        "facebook",
        {
            "verify": "FACEBOOK_VERIFY_TOKEN",
            "secret": "FACEBOOK_APP_SECRET",
            "page-access-token": "FACEBOOK_PAGE_ACCESS_TOKEN",
        },
    ),
    Messenger(
        "slack",
        "slack",
        {"slack_token": "SLACK_BOT_TOKEN", "slack_signing_secret": "SLACK_SIGNING_SECRET"},
        {"slack_channel": "SLACK_CHANNEL"},
    ),
    # The bridge sends CALLBACK_SECRET as a bearer token (connectors.messengers.CallbackInput);
    # CALLBACK_TOKEN is what Rasa sends the bridge with each reply.
    Messenger(
        "callback",
        "connectors.messengers.CallbackInput",
        {"url": "CALLBACK_URL", "secret": "CALLBACK_SECRET"},
        {"token": "CALLBACK_TOKEN"},
    ),
)


class PartialConfiguration(ValueError):
    pass


def configured(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The credentials entries of the messengers the environment turns on."""
    entries: dict[str, dict[str, Any]] = {}
    for messenger in MESSENGERS:
        values = {fld: env.get(var, "").strip() for fld, var in messenger.required.items()}
        missing = [messenger.required[fld] for fld, value in values.items() if not value]
        if len(missing) == len(values):
            continue
        if missing:
            raise PartialConfiguration(f"{messenger.name}: set {', '.join(missing)} too, or unset the others")
        for fld, var in messenger.optional.items():
            if env.get(var, "").strip():
                values[fld] = env[var].strip()
        entries[messenger.key] = values
    return entries


def effective(base: Path, env: Mapping[str, str]) -> dict[str, Any]:
    document = yaml.safe_load(base.read_text()) or {}
    document.update(configured(env))
    return document


def write(document: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    # Secrets: readable by the owner only; replaced atomically so Rasa never reads half a file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Generated at start-up by bot/connectors/credentials.py: do not edit.\n")
        yaml.safe_dump(document, handle, sort_keys=False)
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=BASE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        document = effective(args.base, os.environ)
    except PartialConfiguration as error:
        print(f"channels: {error}", file=sys.stderr)
        return 2
    write(document, args.out)
    on = ["website widget", "rest", *(m.name for m in MESSENGERS if m.key in document)]
    print(f"channels: {', '.join(on)} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
