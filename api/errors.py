"""Every error a client sees, in SPEC section 5's shape, mapped to HTTP in this one place."""
from __future__ import annotations

import logging

import falcon
import msgspec

from domain.errors import Conflict, DomainError, InvalidRequest, NotFound, Unavailable

log = logging.getLogger("paymentkit.api")

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    503: "api_error",
    500: "api_error",
}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, body, query, rate limit...)."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None,
                 headers: dict[str, str] | None = None, error_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = headers or {}
        self.error_type = error_type or ERROR_TYPES.get(status, "invalid_request_error")


def error_body(error_type: str, code: str, message: str, param: str | None,
               errors: list[dict] | None = None) -> bytes:
    """SPEC 5's shape. When a request broke several independent rules, `errors` lists each
    (`code`, `message`, `param`) beside the first one, which stays in the usual fields."""
    body = {"type": error_type, "code": code, "message": message, "param": param}
    if errors:
        body["errors"] = errors
    return msgspec.json.encode({"error": body})


def _write(resp: falcon.Response, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = body
    for name, value in (headers or {}).items():
        resp.set_header(name, value)
    resp.context.failed = True


def send(resp: falcon.Response, error: ApiError) -> None:
    _write(resp, error.status, error_body(error.error_type, error.code, error.message, error.param), error.headers)


def handle_api_error(req, resp, ex: ApiError, params) -> None:
    send(resp, ex)


UNAVAILABLE = error_body("api_error", "service_unavailable",
                         "A service this request needs is unavailable; try again shortly.", None)


def _unavailable(resp: falcon.Response) -> None:
    _write(resp, 503, UNAVAILABLE, {"Retry-After": "5"})


def handle_domain_error(req, resp, ex: DomainError, params) -> None:
    if isinstance(ex, Unavailable):
        return _unavailable(resp)
    if isinstance(ex, NotFound):
        status = 404
    elif isinstance(ex, Conflict):
        status = 409
    else:
        status = 400
    error_type = "idempotency_error" if ex.code.startswith("idempotency_key_") else "invalid_request_error"
    every = ex.field_errors if isinstance(ex, InvalidRequest) else []
    errors = [{"code": e.code, "message": e.message, "param": e.param} for e in every] if len(every) > 1 else None
    _write(resp, status, error_body(error_type, ex.code, ex.message, ex.param, errors))


def handle_http_error(req, resp, ex: falcon.HTTPError, params) -> None:
    """Falcon's own errors (unknown route, wrong method...) in our shape."""
    status = ex.status_code
    code = {404: "resource_missing", 405: "method_not_allowed"}.get(status, "invalid_request")
    message = ex.description or ex.title or "request failed"
    if status == 404:
        message = "Unrecognized request URL."
    headers = dict(ex.headers or {})
    _write(resp, status, error_body(ERROR_TYPES.get(status, "invalid_request_error"), code, message, None), headers)


def handle_unexpected(req, resp, ex: Exception, params) -> None:
    """The last resort: log the traceback, tell the client nothing of it."""
    if isinstance(ex, falcon.HTTPError):
        return handle_http_error(req, resp, ex, params)
    if _is_unavailable(ex):
        log.warning("dependency unavailable: %s", type(ex).__name__)
        return _unavailable(resp)
    log.exception("unhandled error on %s %s", req.method, req.uri_template)  # the template: paths hold tokens
    _write(resp, 500, error_body("api_error", "internal_error", "Something went wrong on our side.", None))


def _is_unavailable(ex: Exception) -> bool:
    """Database or Redis out of reach: a 503, not a 500 (also from the driver itself, which a raw
    pooled connection raises unwrapped)."""
    import psycopg
    from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout
    import redis

    return isinstance(ex, (OperationalError, PoolTimeout, psycopg.OperationalError, redis.ConnectionError,
                           redis.TimeoutError))


def install(app: falcon.App) -> None:
    # Falcon picks the handler of the most specific class, so the order here does not matter.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(DomainError, handle_domain_error)
    app.add_error_handler(ApiError, handle_api_error)


__all__ = ["ApiError", "InvalidRequest", "install", "send"]
