"""Domain errors. Each carries a machine code, the offending parameter and a human message;
the API maps the class to an HTTP status in one place."""
from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code


class InvalidRequest(DomainError):
    """The request breaks a rule; nothing was changed."""

    code = "parameter_invalid"


class NotFound(DomainError):
    """No such object for this account and mode (also said of other accounts' objects)."""

    code = "resource_missing"


class Conflict(DomainError):
    """The request is valid but clashes with the object's state."""

    code = "conflict"


def invalid(param: str | None, message: str, code: str = "parameter_invalid") -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


class Unavailable(DomainError):
    """A dependency (the database) is out of reach: try again shortly; nothing was done."""

    code = "service_unavailable"
