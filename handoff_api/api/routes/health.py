from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.api.errors import database_unavailable, unavailable_response

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=dict[str, str],
    responses={503: {"description": "the database is unreachable (with Retry-After)"}},
)
def healthz(request: Request) -> Any:
    """200 while the service can use its database; 503 with Retry-After while it cannot."""
    factory: sessionmaker[Session] = request.app.state.read_sessions
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return unavailable_response({"status": "unavailable", "database": "unreachable"})
    return {"status": "ok"}
