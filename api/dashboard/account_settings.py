"""Settings → Account (what customers see: display name, support email, brand colour), API keys
(list, add: the secret shown once, revoke at once) and Users (list, add, remove, change your own
password). The same domain rules as `PATCH /account` and `/api-keys`; every error of a form at once,
next to its field, in words."""
from __future__ import annotations

from api.dashboard.auth import csrf_token
from api.dashboard.processor_settings import SETTINGS
from api.dashboard.web import PageNotFound, read_form, redirect, render
from domain import accounts, api_keys, rules, users
from domain.errors import Conflict, InvalidRequest, NotFound
from domain.ids import mode_name
from runtime.settings import Settings

ACCOUNT = f"{SETTINGS}/account"
KEYS = f"{SETTINGS}/api-keys"
USERS = f"{SETTINGS}/users"
ACCOUNT_FIELDS = ("display_name", "support_email", "brand_color")
LABELS = {"display_name": "Display name", "support_email": "Support email", "brand_color": "Brand colour",
          "email": "Email", "password": "Password", "new_password": "The new password"}


def _in_words(error: InvalidRequest) -> str:
    message = error.message
    for name, label in LABELS.items():
        if message.startswith(name + " "):
            return label + message[len(name):]
    return message[:1].upper() + message[1:]


class AccountPage:
    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, values=None, errors=None, status=200, saved=False) -> None:
        account = accounts.get_account(req.context.uow, req.context.owner.account_id)
        shown = {"display_name": account.display_name or "", "support_email": account.support_email or "",
                 "brand_color": account.brand_color or ""}
        render(req, resp, "account.html", status=status, account=account, values=values or shown,
               errors=errors or {}, saved=saved, csrf_token=csrf_token(req), section="settings")

    def on_get(self, req, resp) -> None:
        self._page(req, resp, saved=req.get_param("saved") == "1")

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        given = {name: form.get(name) or None for name in ACCOUNT_FIELDS}
        errors = {}
        for name, value in given.items():  # each field on its own, so that every error shows at once
            try:
                accounts.validate_display_update(accounts.DisplayUpdate(**{name: value}))
            except InvalidRequest as error:
                errors[name] = _in_words(error)
        if errors:
            return self._page(req, resp, {name: form.get(name) for name in ACCOUNT_FIELDS}, errors, 400)
        accounts.update_display(req.context.uow, req.context.owner.account_id, accounts.DisplayUpdate(**given))
        redirect(resp, f"{ACCOUNT}?saved=1")


class KeysPage:
    """GET: the keys; POST: a new key, shown once on the page that answers (never in a URL)."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, made=None, status=200, errors=None) -> None:
        uow, owner = req.context.uow, req.context.owner
        render(req, resp, "api_keys.html", status=status, keys=api_keys.active(uow, owner.account_id), made=made,
               mode=mode_name(owner.livemode), prefix_of=api_keys.prefix_of, mode_name=mode_name,
               revoked=req.get_param("revoked") or "", errors=errors or {}, csrf_token=csrf_token(req),
               section="settings")
        resp.set_header("Cache-Control", "no-store")

    def on_get(self, req, resp) -> None:
        self._page(req, resp)

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        try:
            made = api_keys.create(req.context.uow, req.context.owner.account_id, form.get("mode"))
        except (InvalidRequest, Conflict) as error:
            return self._page(req, resp, status=400, errors={"mode": _in_words(error)})
        self._page(req, resp, made=made)


class KeyRevoke:
    """A confirmation page, then the POST that revokes (programs using the key fail at once)."""

    dashboard = True

    def _key(self, req, key_id: str):
        try:
            return api_keys.get(req.context.uow, req.context.owner.account_id, key_id)
        except NotFound:
            raise PageNotFound() from None

    def on_get(self, req, resp, key_id: str) -> None:
        key = self._key(req, key_id)
        render(req, resp, "api_key_revoke.html", key=key, prefix=api_keys.prefix_of(key), mode=mode_name(key.livemode),
               csrf_token=csrf_token(req), section="settings")

    def on_post(self, req, resp, key_id: str) -> None:
        key = self._key(req, key_id)
        try:
            api_keys.revoke(req.context.uow, req.context.owner.account_id, key.id)
        except Conflict as error:
            return render(req, resp, "api_key_revoke.html", status=409, key=key, prefix=api_keys.prefix_of(key),
                          mode=mode_name(key.livemode), error=_in_words(error), csrf_token=csrf_token(req),
                          section="settings")
        redirect(resp, f"{KEYS}?revoked={key.id}")


class UsersPage:
    """The account's users, Add user, Remove (not yourself) and Change your password, one page."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, status=200, values=None, errors=None, notice="") -> None:
        render(req, resp, "users.html", status=status, people=users.of_account(req.context.uow, req.context.user.account_id),
               me=req.context.user, values=values or {}, errors=errors or {}, notice=notice,
               csrf_token=csrf_token(req), section="settings")

    def on_get(self, req, resp) -> None:
        notices = {"added": "User added: they can sign in now.", "removed": "User removed and signed out.",
                   "password": "Password changed. Your other sessions were signed out."}
        self._page(req, resp, notice=notices.get(req.get_param("done") or "", ""))

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        action = form.get("action")
        if action == "add":
            return self._add(req, resp, form)
        if action == "remove":
            return self._remove(req, resp, form)
        if action == "password":
            return self._password(req, resp, form)
        self._page(req, resp, 400, errors={"__form__": "Choose what to do."})

    def _add(self, req, resp, form) -> None:
        email, password = form.get("email"), form.raw("password")
        errors = {}
        for name, check in (("email", lambda: rules.require_email(email)),
                            ("password", lambda: users.check_password(password))):
            try:
                check()
            except InvalidRequest as error:
                errors[name] = _in_words(error)
        if not errors:
            try:
                users.create_user(req.context.uow, req.context.user.account_id, email, password)
            except InvalidRequest as error:
                errors[error.param if error.param in ("email", "password") else "email"] = _in_words(error)
        if errors:
            return self._page(req, resp, 400, {"email": email}, errors)
        redirect(resp, f"{USERS}?done=added")

    def _remove(self, req, resp, form) -> None:
        try:
            users.remove_user(req.context.uow, req.context.user.account_id, form.get("user_id"), req.context.user)
        except NotFound:
            raise PageNotFound() from None
        except Conflict as error:
            return self._page(req, resp, 409, errors={"__form__": _in_words(error)})
        redirect(resp, f"{USERS}?done=removed")

    def _password(self, req, resp, form) -> None:
        try:
            users.change_password(req.context.uow, req.context.user, form.raw("current_password"),
                                  form.raw("new_password"), form.raw("repeat_password"),
                                  keep_session=req.context.web_session.id)
        except users.FormErrors as bad:
            return self._page(req, resp, 400, errors={k: _in_words(InvalidRequest(v)) for k, v in bad.errors.items()})
        redirect(resp, f"{USERS}?done=password")


def add_routes(app, settings: Settings) -> None:
    app.add_route(ACCOUNT, AccountPage(settings))
    app.add_route(KEYS, KeysPage(settings))
    app.add_route(f"{KEYS}/{{key_id}}/revoke", KeyRevoke())
    app.add_route(USERS, UsersPage(settings))

