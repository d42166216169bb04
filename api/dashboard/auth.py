"""Who is signed in, CSRF on every form, sign-in (rate limited), sign-out and the live/test switch.

`DashboardAuth` acts only on resources marked `dashboard = True`: it finds the session of the
signed cookie, puts the user, the web session and the `Owner` (account + mode) on the request,
sends anyone signed out to the sign-in page, and refuses a POST without the right CSRF token or
from another origin.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

import falcon

from api import html
from api.client_ip import client_ip
from api.dashboard.web import PREFIX, Cookies, read_form, redirect, render, safe_next
from api.ratelimit import RateLimiter
from domain import users
from domain.queries import Owner
from runtime.settings import Settings

SESSION_COOKIE = "pk_session"
SIGNIN_COOKIE = "pk_signin"  # a pre-session token, so that the sign-in form has CSRF protection too
SIGN_IN = f"{PREFIX}/sign-in"
# Sign-in attempts, in the share endpoint's token bucket: per client address and per email.
SIGNIN_PER_IP = (10, 6.0)
SIGNIN_PER_EMAIL = (5, 60.0)


def _our_origins(req: falcon.Request, settings: Settings) -> set[str]:
    ours = {html.origin_of(req.prefix), html.origin_of(settings.public_base_url)}
    if settings.trusted_proxy_count > 0:
        ours.add(html.origin_of(req.forwarded_prefix))
    return ours


def _forbidden(req, resp, message: str) -> None:
    render(req, resp, "message.html", status=403, title="This form has expired", message=message)
    resp.complete = True


class DashboardAuth:
    def __init__(self, settings: Settings, cookies: Cookies):
        self._settings = settings
        self._cookies = cookies

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        if resource is None or not getattr(resource, "dashboard", False):
            return
        req.context.cookies = self._cookies
        token = self._cookies.read(req, SESSION_COOKIE)
        found = users.find_session(req.context.uow, token) if token else None
        if found is not None:
            req.context.session_token = token
            req.context.web_session, req.context.user = found
            req.context.owner = Owner(req.context.user.account_id, req.context.web_session.livemode)
        if found is None and getattr(resource, "signed_in_only", True):
            target = req.relative_uri if req.method == "GET" else None
            redirect(resp, SIGN_IN + (f"?next={quote(target, safe='')}" if target else ""))
            resp.complete = True
            return
        if req.method == "POST":
            self._check_csrf(req, resp, found is not None)

    def _check_csrf(self, req, resp, signed_in: bool) -> None:
        if not html.from_our_pages(req, _our_origins(req, self._settings)):
            return _forbidden(req, resp, "The form was sent from another site.")
        # A body that is no readable form is a 400 or 413 (BadForm), not a "form expired".
        sent = read_form(req, self._settings.max_body_bytes).get("csrf_token")
        if signed_in:
            expected = req.context.web_session.csrf_token
        else:
            signin_token = self._cookies.read(req, SIGNIN_COOKIE)
            expected = self._cookies.mac("csrf", signin_token) if signin_token else None
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            _forbidden(req, resp, "Reload the page and send the form again.")


def csrf_token(req: falcon.Request) -> str:
    return req.context.web_session.csrf_token


class SignIn:
    dashboard = True
    signed_in_only = False

    def __init__(self, settings: Settings, redis_client):
        self._settings = settings
        self._per_ip = RateLimiter(redis_client, *SIGNIN_PER_IP, prefix=settings.redis_key_prefix, scope="signin")
        self._per_email = RateLimiter(redis_client, *SIGNIN_PER_EMAIL, prefix=settings.redis_key_prefix,
                                      scope="signin-email")

    def _page(self, req, resp, status: int = 200, **context) -> None:
        cookies: Cookies = req.context.cookies
        token = cookies.read(req, SIGNIN_COOKIE)
        if token is None:
            token = secrets.token_urlsafe(32)
            cookies.write(req, resp, SIGNIN_COOKIE, token, max_age=12 * 3600)
        render(req, resp, "sign_in.html", status=status, csrf_token=cookies.mac("csrf", token),
               next=safe_next(req.get_param("next") or context.pop("next", None)), **context)

    def on_get(self, req, resp) -> None:
        if req.context.get("user") is not None:
            return redirect(resp, safe_next(req.get_param("next")))
        self._page(req, resp)

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        email, password, target = form.get("email"), form.raw("password"), form.get("next")
        for limiter, key in ((self._per_ip, client_ip(req, self._settings.trusted_proxy_count)),
                             (self._per_email, users.email_key(email))):
            decision = limiter.check(key)
            if not decision.allowed:
                resp.set_header("Retry-After", str(decision.retry_after))
                return self._page(req, resp, 429, email=email, next=target,
                                  error=f"Too many sign-in attempts. Try again in {decision.retry_after} seconds.")
        user = users.authenticate(req.context.uow, email, password)
        if user is None:
            return self._page(req, resp, 400, email=email, next=target, error="Wrong email or password.")
        cookies: Cookies = req.context.cookies
        if req.context.get("session_token"):
            users.end_session(req.context.uow, req.context.session_token)
        signed = users.start_session(req.context.uow, user)
        cookies.write(req, resp, SESSION_COOKIE, signed.token, max_age=int(users.SESSION_LIFETIME.total_seconds()))
        cookies.clear(req, resp, SIGNIN_COOKIE)
        redirect(resp, safe_next(target))


class SignOut:
    dashboard = True

    def on_post(self, req, resp) -> None:
        users.end_session(req.context.uow, req.context.session_token)
        req.context.cookies.clear(req, resp, SESSION_COOKIE)
        redirect(resp, SIGN_IN)


class Mode:
    """The live/test switch; back to the list of the section the user was in."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        users.set_mode(req.context.uow, req.context.web_session, form.get("livemode") == "true")
        section = "/".join(safe_next(form.get("next")).split("/")[:3])
        redirect(resp, section)
