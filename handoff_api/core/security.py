"""API tokens: shown once, stored only as a keyed hash."""

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hd_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, key: str) -> str:
    return hmac.new(key.encode(), token.encode(), hashlib.sha256).hexdigest()
