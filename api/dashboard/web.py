"""What every dashboard page shares: rendering (its own CSP), the signed session cookie, reading
a form, and redirects."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

import falcon
from falcon.uri import parse_query_string

from api import html
from api.errors import ApiError
from api.http import raw_body
from domain.errors import NotFound

STATIC = html.STATIC
PREFIX = "/dashboard"

# Like the hosted pages, plus this origin's own script file (no inline script anywhere).
DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def render(req: falcon.Request, resp: falcon.Response, template: str, status: int = 200, **context: Any) -> None:
    """A dashboard page. A page shown with a 4xx status also tells the unit of work not to commit."""
    context.setdefault("errors", {})
    html.render(resp, f"dashboard/{template}", csp=DASHBOARD_CSP, status=status, user=req.context.get("user"),
                web_session=req.context.get("web_session"), path=req.path, **context)
    if status >= 400:
        resp.context.failed = True


def redirect(resp: falcon.Response, location: str) -> None:
    resp.status = 303
    resp.location = location
    resp.set_header("Cache-Control", "no-store")


def safe_next(target: str | None, default: str = f"{PREFIX}/payment-links") -> str:
    """Only a path inside the dashboard: never an open redirect."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target \
            and all(c.isprintable() and not c.isspace() for c in target):
        return target
    return default


class PageNotFound(Exception):
    """Another account's object, another mode's, or nothing at all: one 404 page."""


def owned(read, req: falcon.Request, *args: Any) -> Any:
    """`read(uow, owner, *args)`, a domain read of this user's account and mode, or the one 404 page."""
    try:
        return read(req.context.uow, req.context.owner, *args)
    except NotFound:
        raise PageNotFound() from None


def handle_not_found(req, resp, ex: PageNotFound, params) -> None:
    render(req, resp, "not_found.html", status=404)


# ---- the session cookie -----------------------------------------------------------------------

class Cookies:
    """Signed, HttpOnly, SameSite=Lax cookies; `__Host-` and Secure when the request came over https.

    The value is a random token and its HMAC; the server looks sessions up by the token's hash.
    """

    def __init__(self, secret_key: bytes, trusted_proxy_count: int):
        self._secret_key = secret_key
        self._trusted_proxy_count = trusted_proxy_count

    def secure(self, req: falcon.Request) -> bool:
        scheme = req.forwarded_scheme if self._trusted_proxy_count > 0 else req.scheme
        return scheme == "https"

    def name(self, req: falcon.Request, base: str) -> str:
        return f"__Host-{base}" if self.secure(req) else base

    def mac(self, purpose: str, token: str) -> str:
        return hmac.new(self._secret_key, f"dashboard:{purpose}:{token}".encode(), hashlib.sha256).hexdigest()

    def read(self, req: falcon.Request, base: str) -> str | None:
        """The token of a correctly signed cookie, if the request carries one."""
        for value in req.get_cookie_values(self.name(req, base)) or []:
            token, _, signature = value.rpartition(".")
            if token and hmac.compare_digest(signature, self.mac(base, token)):
                return token
        return None

    def write(self, req: falcon.Request, resp: falcon.Response, base: str, token: str, max_age: int) -> None:
        resp.set_cookie(self.name(req, base), f"{token}.{self.mac(base, token)}", max_age=max_age, path="/",
                        secure=self.secure(req), http_only=True, same_site="Lax")

    def clear(self, req: falcon.Request, resp: falcon.Response, base: str) -> None:
        resp.unset_cookie(self.name(req, base), path="/")


# ---- forms ------------------------------------------------------------------------------------

class BadForm(Exception):
    """The body is not a form we can read at all: 400 (wrong type, not UTF-8) or 413 (too large)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class Form:
    """A urlencoded form body: `get` gives one value (stripped), `getlist` all of them."""

    def __init__(self, data: dict[str, str | list[str]]):
        self._data = data

    def get(self, name: str) -> str:
        value = self._data.get(name, "")
        return (value[0] if isinstance(value, list) else value).strip()

    def raw(self, name: str) -> str:
        """One value as sent (a password keeps its spaces)."""
        value = self._data.get(name, "")
        return value[0] if isinstance(value, list) else value

    def getlist(self, name: str) -> list[str]:
        value = self._data.get(name, [])
        return [v.strip() for v in (value if isinstance(value, list) else [value]) if v.strip()]

    def optional(self, name: str) -> str | None:
        return self.get(name) or None

    def checked(self, name: str) -> bool:
        return self.get(name) in ("on", "true", "1")

    def values(self) -> dict[str, str | list[str]]:
        """For re-rendering the form as it was sent."""
        return dict(self._data)


def read_form(req: falcon.Request, max_bytes: int) -> Form:
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != falcon.MEDIA_URLENCODED:
        raise BadForm("Send the form as application/x-www-form-urlencoded.")
    try:
        text = raw_body(req, max_bytes).decode("utf-8")
    except ApiError as too_large:
        raise BadForm(too_large.message, too_large.status) from None
    except UnicodeDecodeError:
        raise BadForm("The form is not valid UTF-8.") from None
    return Form(parse_query_string(text, keep_blank=True, csv=False))


def handle_bad_form(req, resp, ex: BadForm, params) -> None:
    render(req, resp, "message.html", status=ex.status, title="The form could not be read", message=str(ex))


# ---- newest-first pages -----------------------------------------------------------------------

def page_query(req: falcon.Request, filters: dict[str, Any], limit: int = 20):
    from domain.queries import PageQuery

    def cursor(name: str) -> str | None:
        value = req.get_param(name) or None
        return value if value and len(value) <= 64 else None

    return PageQuery(limit=limit, starting_after=cursor("starting_after"), ending_before=cursor("ending_before"),
                     filters=filters)


def pager(path: str, keep: dict[str, str], found, query) -> dict[str, str | None]:
    """Links to the newer and older pages, keeping the filters."""
    from urllib.parse import urlencode

    backwards = bool(query.ending_before)
    has_newer = bool(found.data) and (found.has_more if backwards else bool(query.starting_after))
    has_older = bool(found.data) and (True if backwards else found.has_more)
    base = {k: v for k, v in keep.items() if v}
    return {
        "newer": f"{path}?{urlencode({**base, 'ending_before': found.data[0].id})}" if has_newer else None,
        "older": f"{path}?{urlencode({**base, 'starting_after': found.data[-1].id})}" if has_older else None,
    }
