"""Domain errors. Each carries a machine code, the offending parameter and a human message;
the API maps the class to an HTTP status in one place."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code


class InvalidRequest(DomainError):
    """The request breaks a rule; nothing was changed.

    One command may break several independent rules (a bad URL and a bad expiry): then this error
    is the first of them and `field_errors` holds them all, in the order the fields were checked,
    so that a form can show each next to its field (see Checks)."""

    code = "parameter_invalid"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 field_errors: list[InvalidRequest] | None = None):
        super().__init__(message, param=param, code=code)
        self._field_errors = list(field_errors or [])

    @property
    def field_errors(self) -> list[InvalidRequest]:
        return self._field_errors or [self]


class NotFound(DomainError):
    """No such object for this account and mode (also said of other accounts' objects)."""

    code = "resource_missing"


class Conflict(DomainError):
    """The request is valid but clashes with the object's state."""

    code = "conflict"


class Checks:
    """Collects the failures of a command's independent checks, to raise them all at once:

        checks = Checks()
        with checks.field():
            require_url(cmd.success_url, "success_url")
        with checks.field():
            require_int_range(cmd.expires_in_hours, "expires_in_hours", 1, 720)
        checks.raise_any()

    A check that depends on another (a price's currency on its being found) goes in the same
    block, so it is skipped when the first one fails."""

    def __init__(self) -> None:
        self.failures: list[InvalidRequest] = []

    @contextmanager
    def field(self) -> Iterator[None]:
        try:
            yield
        except InvalidRequest as failure:
            self.failures.extend(failure.field_errors)

    def failed(self, param_prefix: str) -> bool:
        """Whether a failure names this parameter or one inside it (`line_items` ~ `line_items[0]`)."""
        return any(f.param == param_prefix or (f.param or "").startswith((param_prefix + "[", param_prefix + "."))
                   for f in self.failures)

    def raise_any(self) -> None:
        if self.failures:
            raise all_of(self.failures)


def all_of(failures: list[InvalidRequest]) -> InvalidRequest:
    """One error for several: the first, carrying them all."""
    if len(failures) == 1:
        return failures[0]
    first = failures[0]
    return InvalidRequest(first.message, param=first.param, code=first.code, field_errors=failures)


def invalid(param: str | None, message: str, code: str = "parameter_invalid") -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


class Unavailable(DomainError):
    """A dependency (the database) is out of reach: try again shortly; nothing was done."""

    code = "service_unavailable"
