"""Domain errors; the app maps each to its HTTP status with a message that names the problem."""


class HelpdeskError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(HelpdeskError):
    status_code = 404


class Forbidden(HelpdeskError):
    status_code = 403


class Conflict(HelpdeskError):
    status_code = 409


class Invalid(HelpdeskError):
    status_code = 422


class Unavailable(HelpdeskError):
    status_code = 503
