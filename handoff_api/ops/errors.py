"""A safety net: a number (or text) too large for the database column is the client's input, not a
server fault. PostgreSQL raises DataError (e.g. an id above 2**31-1), SQLite OverflowError (above 2**63-1);
both become 422 instead of 500. Routes should still bound their inputs (and name the field); this only
catches what they miss. Found by tests/service/test_schema_fuzz.py."""

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

log = structlog.get_logger(__name__)


def register(app: FastAPI) -> None:
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote the input: log only its type and where it happened.
        log.warning("request.value_out_of_range", error=type(exc).__name__, path=request.url.path)
        return JSONResponse(
            {"detail": "a value in the request is out of range (too large for the database)"}, status_code=422
        )

    app.add_exception_handler(DataError, out_of_range)
    app.add_exception_handler(OverflowError, out_of_range)
