"""One-time codes, masked destinations and signed reset links.

A code is 6 random digits. Only HMAC-SHA256(service secret, verification id + code) is stored, so
a copy of the database alone does not reveal a code, and the million possible codes cannot be
tried offline without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from urllib.parse import urlencode

CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(secret_key: str, verification_id: str, code: str) -> str:
    message = f"otp:{verification_id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def code_matches(secret_key: str, verification_id: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(secret_key, verification_id, code), stored_hash)


def normalise_code(text: str) -> str | None:
    """The 6 digits in what the customer typed ("123 456", "123-456"), or None."""
    digits = "".join(ch for ch in text if ch.isdigit())
    stripped = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return digits if len(digits) == CODE_DIGITS and stripped == digits else None


def mask_email(address: str) -> str:
    """`jane.doe@example.com` -> `j******e@example.com`: recognisable by its owner, not by others."""
    local, _, domain = address.partition("@")
    if len(local) <= 2:
        masked = local[:1] + "*" * max(1, len(local) - 1)
    else:
        masked = local[0] + "*" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}" if domain else masked


def reset_link(secret_key: str, base_url: str, username: str, expires_at: datetime) -> str:
    """A link to the password page, carrying a token only the service's secret could have signed.

    Token: base64url("username|expiry epoch") + "." + HMAC; the page checks it with the same secret.
    """
    payload = f"{username}|{int(expires_at.timestamp())}|{secrets.token_hex(8)}".encode()
    signature = hmac.new(secret_key.encode(), b"reset:" + payload, hashlib.sha256).hexdigest()
    token = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + signature
    return f"{base_url}?{urlencode({'token': token})}"
