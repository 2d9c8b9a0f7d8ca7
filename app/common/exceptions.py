"""Domain errors raised by services; the HTTP layer turns them into 4xx answers (JSON under /api/)."""


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(DomainError):
    status = 400
    code = "invalid"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Gone(DomainError):
    status = 410
    code = "gone"


class Unprocessable(DomainError):
    """Well-formed input the request cannot use (a wrong or stale check-in code)."""

    status = 422
    code = "unprocessable"
