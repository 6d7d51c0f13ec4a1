"""Safety nets for errors no route should turn into a 500.

- A number (or text) too large for the database column is the client's input, not a server fault.
  PostgreSQL raises DataError (e.g. an id above 2**31-1), SQLite OverflowError (above 2**63-1); both
  become 422 instead of 500. Routes should still bound their inputs (and name the field); this only
  catches what they miss. Found by tests/service/test_schema_fuzz.py.
- The database unavailable (PostgreSQL down, restarting or unreachable, connections reset, the pool
  exhausted, SQLite's write lock held beyond the busy timeout) is 503 with `Retry-After`: the client
  may retry the same request. The request's transaction is rolled back, so nothing is half-written.
  tests/service/core/test_database_unavailable.py.
"""

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = structlog.get_logger(__name__)
RETRY_AFTER_SECONDS = 5
# Connection refused, reset or lost, server shutting down, lock timeouts, deadlocks and serialization
# failures (PostgreSQL's TransactionRollbackError is an OperationalError), SQLite "database is locked".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be used right now (retrying later may work)."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable_response(detail: dict[str, str] | None = None) -> JSONResponse:
    body = detail or {"detail": "the database is unavailable right now; retry later"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def register(app: FastAPI) -> None:
    async def out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # The exception text may quote the input: log only its type and where it happened.
        log.warning("request.value_out_of_range", error=type(exc).__name__, path=request.url.path)
        return JSONResponse(
            {"detail": "a value in the request is out of range (too large for the database)"}, status_code=422
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not database_unavailable(exc):
            raise exc  # any other database error: what it was before (logged, 500)
        # The driver's message, not the statement (which may carry the client's input).
        cause = getattr(exc, "orig", None) or exc
        log.warning(
            "request.database_unavailable",
            error=type(cause).__name__,
            message=str(cause).splitlines()[0][:200] if str(cause) else "",
            path=request.url.path,
            method=request.method,
        )
        return unavailable_response()

    app.add_exception_handler(DataError, out_of_range)
    app.add_exception_handler(OverflowError, out_of_range)
    for error in (*UNAVAILABLE_ERRORS, DBAPIError):
        app.add_exception_handler(error, unavailable)
