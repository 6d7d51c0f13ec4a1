"""The bot verifies a customer by a one-time code, then unlocks their account or mails a reset link.

Unknown accounts get 404 on purpose: the bot must be able to say "I couldn't find that account".
The route needs the bot's token, the code only ever goes to the address on record, and the bot
hands over after repeated misses, so this tells an outsider little they could not guess.
"""

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from handoff_api.api.deps import CurrentBot, DirectoryDep, MailerDep, SessionDep, SettingsDep
from handoff_api.identity import schemas, verification
from handoff_api.identity.directory import DirectoryUnavailable
from handoff_api.mail.sender import MailUnavailable
from handoff_api.models import Verification
from handoff_api.ops import audit

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the directory or the mail system is unavailable"}
}


def _unavailable(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


@router.post(
    "/verifications",
    response_model=schemas.VerificationOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "no account matches"},
        409: {"description": "no e-mail address on record"},
        423: {"model": schemas.LockedOut, "description": "self-service locked after wrong codes"},
        429: {"description": "too many codes sent to this account recently"},
        **_UNAVAILABLE,
    },
)
def start_verification(
    body: schemas.VerificationStart,
    session: SessionDep,
    settings: SettingsDep,
    directory: DirectoryDep,
    mailer: MailerDep,
    _bot: CurrentBot,
) -> schemas.VerificationOut | JSONResponse:
    try:
        started = verification.start(
            session, settings, directory, mailer, body.username_or_email, body.conversation_id, body.language
        )
    except verification.SelfServiceLocked as exc:
        locked = schemas.LockedOut(detail=exc.detail, locked_until=exc.locked_until)
        return JSONResponse(locked.model_dump(mode="json"), status_code=423)
    except (DirectoryUnavailable, MailUnavailable) as exc:
        session.rollback()
        return _unavailable(exc)
    return schemas.VerificationOut(
        verification_id=started.id,
        masked_destination=started.masked_destination,
        expires_at=started.expires_at,
    )


@router.post("/verifications/{verification_id}/check", response_model=schemas.CheckOut)
def check_code(
    verification_id: str,
    body: schemas.CodeCheck,
    session: SessionDep,
    settings: SettingsDep,
    directory: DirectoryDep,
    _bot: CurrentBot,
) -> schemas.CheckOut | JSONResponse:
    found = verification.get(session, verification_id)
    try:
        result = verification.check(session, settings, directory, found, body.code)
    except DirectoryUnavailable as exc:
        return _unavailable(exc)
    customer = (
        schemas.VerifiedCustomer(id=result.user.username, name=result.user.name, email=result.user.email)
        if result.user
        else None
    )
    return schemas.CheckOut(
        status=result.status,
        attempts_left=result.attempts_left,
        locked_until=result.locked_until,
        customer=customer,
        account_locked=result.user.locked if result.user else None,
    )


# Who acted, in the audit log: the bot, for a customer it verified by a one-time code.
SELF_SERVICE_ACTOR = "bot:self-service"


def _audit(session: Session, action: str, found: Verification) -> None:
    audit.record(
        session,
        SELF_SERVICE_ACTOR,
        action,
        found.account,
        conversation_id=found.conversation_id,
        verification_id=found.id,
    )


@router.post("/verifications/{verification_id}/unlock", response_model=schemas.UnlockOut)
def unlock_account(
    verification_id: str,
    session: SessionDep,
    settings: SettingsDep,
    directory: DirectoryDep,
    _bot: CurrentBot,
) -> schemas.UnlockOut | JSONResponse:
    found = verification.get(session, verification_id)
    try:
        outcome = verification.unlock(settings, directory, found)
    except DirectoryUnavailable as exc:
        return _unavailable(exc)
    _audit(session, f"directory.{outcome}", found)
    refused = outcome == "administrator_lock"
    return schemas.UnlockOut(
        unlocked=outcome == "unlocked", was_locked=outcome != "not_locked", locked_by_administrator=refused
    )


@router.post("/verifications/{verification_id}/reset-link", response_model=schemas.ResetLinkOut)
def send_reset_link(
    verification_id: str,
    session: SessionDep,
    settings: SettingsDep,
    directory: DirectoryDep,
    mailer: MailerDep,
    _bot: CurrentBot,
) -> schemas.ResetLinkOut | JSONResponse:
    found = verification.get(session, verification_id)
    try:
        destination = verification.send_reset_link(session, settings, directory, mailer, found)
    except (DirectoryUnavailable, MailUnavailable) as exc:
        return _unavailable(exc)
    _audit(session, "directory.reset_link_sent", found)
    return schemas.ResetLinkOut(sent=True, masked_destination=destination)
