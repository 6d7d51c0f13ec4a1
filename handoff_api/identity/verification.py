"""Verifying a customer by a one-time code mailed to their address on record, then acting for them.

start -> (mail the code) -> check (3 wrong codes per account, however many codes were asked for, close
      self-service for the account for a while)
      -> unlock the account | mail a password-reset link   (each only within the code's lifetime)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handoff_api.core.config import Settings
from handoff_api.core.errors import Conflict, HelpdeskError, NotFound
from handoff_api.core.i18n import translate
from handoff_api.identity import codes
from handoff_api.identity.directory import AdministratorLock, Directory, DirectoryUser
from handoff_api.mail.sender import Mailer
from handoff_api.models import SelfServiceLockout, Verification, utcnow


class SelfServiceLocked(HelpdeskError):
    status_code = 423

    def __init__(self, locked_until: datetime) -> None:
        super().__init__("self-service is locked for this account after too many wrong codes")
        self.locked_until = locked_until


class TooManyCodes(HelpdeskError):
    status_code = 429


@dataclass(frozen=True)
class CheckResult:
    status: str  # verified | wrong_code | expired | locked
    attempts_left: int
    locked_until: datetime | None = None
    user: DirectoryUser | None = None


def lockout_until(session: Session, account: str, now: datetime) -> datetime | None:
    lockout = session.get(SelfServiceLockout, account)
    return lockout.locked_until if lockout is not None and lockout.locked_until > now else None


# The mails, in the conversation's language (handoff_api/locale).
CODE_SUBJECT = "Your IT help desk verification code"
CODE_BODY = (
    "Hello {name},\n\nyour verification code is {code}. It expires in {minutes} minutes.\n\n"
    "Type it in the help desk chat. Nobody from IT will ever ask you for it by phone or e-mail.\n"
    "If you did not ask for a code, you can ignore this message.\n"
)
RESET_SUBJECT = "Reset your password"
RESET_BODY = (
    "Hello {name},\n\nyou asked the IT help desk for a password reset. Choose a new password "
    "here (the link works for 1 hour):\n\n{link}\n\n"
    "If you did not ask for this, tell the IT help desk.\n"
)
RESET_BODY_HOURS = (
    "Hello {name},\n\nyou asked the IT help desk for a password reset. Choose a new password "
    "here (the link works for {hours} hours):\n\n{link}\n\n"
    "If you did not ask for this, tell the IT help desk.\n"
)


def start(
    session: Session,
    settings: Settings,
    directory: Directory,
    mailer: Mailer,
    username_or_email: str,
    conversation_id: str,
    language: str = "en",
) -> Verification:
    user = directory.find(username_or_email)
    if user is None:
        raise NotFound("no account matches that username or e-mail address")
    now = utcnow()
    locked_until = lockout_until(session, user.username, now)
    if locked_until is not None:
        raise SelfServiceLocked(locked_until)
    if not user.email:
        raise Conflict("the account has no e-mail address on record to send a code to")
    window_start = now - timedelta(seconds=settings.otp_lockout_seconds)
    sent = session.scalar(
        select(func.count())
        .select_from(Verification)
        .where(Verification.account == user.username, Verification.created_at > window_start)
    )
    if (sent or 0) >= settings.otp_max_codes_per_window:
        raise TooManyCodes("too many codes were sent to this account recently; try again later")

    # A new code replaces the account's earlier pending ones.
    session.execute(
        update(Verification)
        .where(Verification.account == user.username, Verification.status == "pending")
        .values(status="expired")
    )
    verification_id = str(uuid.uuid4())
    code = codes.new_code()
    verification = Verification(
        id=verification_id,
        conversation_id=conversation_id,
        account=user.username,
        code_hash=codes.hash_code(settings.secret_key(), verification_id, code),
        masked_destination=codes.mask_email(user.email),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        language=language,
    )
    session.add(verification)
    minutes = max(1, settings.otp_ttl_seconds // 60)
    mailer.send(
        session,
        user.email,
        translate(language, CODE_SUBJECT),
        translate(language, CODE_BODY, name=user.name, code=code, minutes=minutes),
    )
    session.flush()
    return verification


def get(session: Session, verification_id: str) -> Verification:
    verification = session.get(Verification, verification_id)
    if verification is None:
        raise NotFound(f"verification {verification_id} does not exist")
    return verification


def check(
    session: Session, settings: Settings, directory: Directory, verification: Verification, code: str
) -> CheckResult:
    now = utcnow()
    locked_until = lockout_until(session, verification.account, now)
    if verification.status == "failed" or locked_until is not None:
        return CheckResult("locked", 0, locked_until)
    if verification.status == "verified":
        raise Conflict("this verification is already complete")
    if verification.status == "expired" or verification.expires_at <= now:
        verification.status = "expired"
        return CheckResult("expired", 0)
    if codes.code_matches(settings.secret_key(), verification.id, code, verification.code_hash):
        verification.status = "verified"
        verification.verified_at = now
        return CheckResult(
            "verified",
            settings.otp_max_attempts - verification.attempts,
            None,
            directory.find(verification.account),
        )
    verification.attempts += 1
    left = settings.otp_max_attempts - wrong_codes(session, settings, verification.account, now)
    if left > 0:
        return CheckResult("wrong_code", left)
    verification.status = "failed"
    until = now + timedelta(seconds=settings.otp_lockout_seconds)
    lockout = session.get(SelfServiceLockout, verification.account)
    if lockout is None:
        session.add(SelfServiceLockout(account=verification.account, locked_until=until))
    else:
        lockout.locked_until = until
    return CheckResult("locked", 0, until)


def wrong_codes(session: Session, settings: Settings, account: str, now: datetime) -> int:
    """Wrong codes typed for `account` within the lockout window, across all its codes: asking for a
    new code does not give a new budget of guesses. A code that ended in a lockout (failed) has been
    paid for, and one that was verified ends the count."""
    window_start = now - timedelta(seconds=settings.otp_lockout_seconds)
    last_verified = session.scalar(
        select(func.max(Verification.created_at)).where(
            Verification.account == account, Verification.status == "verified"
        )
    )
    since = max(window_start, last_verified) if last_verified is not None else window_start
    total = session.scalar(
        select(func.coalesce(func.sum(Verification.attempts), 0)).where(
            Verification.account == account,
            Verification.created_at >= since,
            Verification.status.in_(("pending", "expired")),
        )
    )
    return int(total or 0)


def require_verified(settings: Settings, verification: Verification) -> None:
    """Acting on the account needs a verified code, used within the code's lifetime."""
    if verification.status != "verified" or verification.verified_at is None:
        raise Conflict("the one-time code has not been verified")
    if verification.verified_at + timedelta(seconds=settings.otp_ttl_seconds) <= utcnow():
        raise Conflict("the verification has expired; start again")


def unlock(settings: Settings, directory: Directory, verification: Verification) -> str:
    """Lifts a lockout from failed sign-ins: "unlocked", "not_locked", or "administrator_lock" (an
    administrator's lock, which only an engineer may lift)."""
    require_verified(settings, verification)
    try:
        outcome = "unlocked" if directory.unlock(verification.account) else "not_locked"
    except AdministratorLock:
        outcome = "administrator_lock"
    verification.used_for = {
        "unlocked": "unlock",
        "not_locked": "unlock_not_needed",
        "administrator_lock": "unlock_refused",
    }[outcome]
    return outcome


def send_reset_link(
    session: Session, settings: Settings, directory: Directory, mailer: Mailer, verification: Verification
) -> str:
    require_verified(settings, verification)
    user = directory.find(verification.account)
    if user is None or not user.email:
        raise Conflict("the account no longer has an e-mail address on record")
    expires = utcnow() + timedelta(seconds=settings.reset_link_ttl_seconds)
    link = codes.reset_link(settings.secret_key(), settings.helpdesk_reset_url, user.username, expires)
    hours = max(1, settings.reset_link_ttl_seconds // 3600)
    mailer.send(
        session,
        user.email,
        translate(verification.language, RESET_SUBJECT),
        translate(
            verification.language,
            RESET_BODY if hours == 1 else RESET_BODY_HOURS,
            name=user.name,
            hours=hours,
            link=link,
        ),
    )
    verification.used_for = "reset_link"
    return codes.mask_email(user.email)
