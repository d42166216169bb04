"""Settings → Account, API keys and Users in the dashboard: the same rules as the API, every error
of a form at once next to its field in words, a new key shown once, a revoked key refused by the
API at once, users added, removed (signed out) and a password changed."""
from __future__ import annotations

import re

from domain import accounts, users
from domain.models import WebSession
from tests.integration.test_dashboard import (  # noqa: F401  (fixtures)
    PASSWORD, Browser, browser, csrf_of, error_next_to, user)

ACCOUNT = "/dashboard/settings/account"
KEYS = "/dashboard/settings/api-keys"
USERS = "/dashboard/settings/users"


def test_account_settings_save_and_show_on_the_checkout(browser, user, uow_factory):
    page = browser.get(ACCOUNT)
    assert page.status_code == 200 and 'placeholder="Test shop"' in page.text
    saved = browser.submit(ACCOUNT, {"display_name": "Ada's Teas", "support_email": "help@ada.example",
                                     "brand_color": "#1a73e8"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{ACCOUNT}?saved=1"
    with uow_factory() as uow:
        assert accounts.display_of(uow, user.account_id) == accounts.MerchantDisplay(
            "Ada's Teas", "help@ada.example", "#1a73e8")
    again = browser.get(f"{ACCOUNT}?saved=1")
    assert "Saved." in again.text and 'fill="#1a73e8"' in again.text
    cleared = browser.submit(ACCOUNT, {"display_name": "", "support_email": "", "brand_color": ""})
    assert cleared.status_code == 303
    assert user.ok("GET", "/account")["display_name"] == "Test shop"


def test_every_account_error_shows_at_once_in_words_and_nothing_changes(browser, user):
    before = user.ok("GET", "/account")
    page = browser.submit(ACCOUNT, {"display_name": "x" * 256, "support_email": "not an email", "brand_color": "red"})
    assert page.status_code == 400
    assert error_next_to(page.text, "display_name").startswith("Display name must be at most")
    assert error_next_to(page.text, "support_email") == "Support email must be an email address"
    assert error_next_to(page.text, "brand_color").startswith("Brand colour must be a colour as #RRGGBB")
    assert 'value="not an email"' in page.text  # the form as sent
    assert user.ok("GET", "/account") == before


def test_a_key_made_in_the_dashboard_is_shown_once_and_revoking_it_refuses_it_at_once(browser, user):
    made = browser.submit(KEYS, {"mode": "live"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-key-secret" value="(sk_live_[0-9A-Za-z]+)"', made.text).group(1)
    assert user.get("/payment-links", key=secret).status_code == 200
    listing = browser.get(KEYS)
    assert secret not in listing.text and f"sk_live_…{secret[-4:]}" in listing.text
    key_id = next(k["id"] for k in user.ok("GET", "/api-keys")["data"] if k["last4"] == secret[-4:])
    confirm = browser.get(f"{KEYS}/{key_id}/revoke")
    assert confirm.status_code == 200 and f"sk_live_…{secret[-4:]}" in confirm.text
    revoked = browser.post(f"{KEYS}/{key_id}/revoke", {"csrf_token": csrf_of(confirm.text)})
    assert revoked.status_code == 303 and revoked.headers["location"] == f"{KEYS}?revoked={key_id}"
    refused = user.get("/payment-links", key=secret)
    assert refused.status_code == 401
    assert browser.get(f"{KEYS}/{key_id}/revoke").status_code == 404


def test_the_last_key_cannot_be_revoked_from_the_dashboard(browser, user):
    keys = user.ok("GET", "/api-keys")["data"]
    first = browser.get(f"{KEYS}/{keys[0]['id']}/revoke")
    assert browser.post(f"{KEYS}/{keys[0]['id']}/revoke", {"csrf_token": csrf_of(first.text)}).status_code == 303
    page = browser.get(f"{KEYS}/{keys[1]['id']}/revoke")
    refused = browser.post(f"{KEYS}/{keys[1]['id']}/revoke", {"csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409 and "last API key" in refused.text
    assert len(user.ok("GET", "/api-keys", key=user.test_api_key if keys[0]["mode"] == "live" else user.api_key)
               ["data"]) == 1
    assert "the last key" in browser.get(KEYS).text


def test_a_bad_key_mode_is_an_error_next_to_it(browser, user):
    page = browser.submit(KEYS, {"mode": "prod"})
    assert page.status_code == 400 and error_next_to(page.text, "mode") == "Mode must be live or test"
    assert len(user.ok("GET", "/api-keys")["data"]) == 2


def test_users_added_removed_and_a_password_changed(client, browser, user, uow_factory):
    bad = browser.submit(USERS, {"action": "add", "email": "nope", "password": "short"})
    assert bad.status_code == 400
    assert error_next_to(bad.text, "email") == "Email must be an email address"
    assert error_next_to(bad.text, "password").startswith("The password must be at least 10")
    taken = browser.submit(USERS, {"action": "add", "email": user.email, "password": PASSWORD})
    assert taken.status_code == 400 and "already exists" in error_next_to(taken.text, "email")
    added = browser.submit(USERS, {"action": "add", "email": "bob@example.com", "password": PASSWORD})
    assert added.status_code == 303
    bob = Browser(client)
    assert bob.sign_in("bob@example.com").status_code == 303
    page = browser.get(USERS)
    assert "bob@example.com" in page.text and page.text.count(">Remove<") == 1  # never yourself
    with uow_factory() as uow:
        bob_id = next(u.id for u in users.of_account(uow, user.account_id) if u.email == "bob@example.com")
    removed = browser.post(USERS, {"csrf_token": csrf_of(page.text), "action": "remove", "user_id": bob_id})
    assert removed.status_code == 303
    assert bob.get("/dashboard/payment-links").status_code == 303  # signed out at once
    with uow_factory() as uow:
        my_id = next(u.id for u in users.of_account(uow, user.account_id))
        assert uow.session.query(WebSession).filter_by(user_id=bob_id).count() == 0
    mine = browser.post(USERS, {"csrf_token": csrf_of(page.text), "action": "remove", "user_id": my_id})
    assert mine.status_code == 409 and "cannot remove yourself" in mine.text


def test_a_password_change_checks_everything_at_once_then_signs_out_the_other_sessions(client, browser, user):
    other = Browser(client)
    assert other.sign_in(user.email).status_code == 303
    wrong = browser.submit(USERS, {"action": "password", "current_password": "wrong one!",
                                   "new_password": "short", "repeat_password": "x"})
    assert wrong.status_code == 400
    assert error_next_to(wrong.text, "current_password") == "The current password is wrong"
    assert error_next_to(wrong.text, "new_password").startswith("The password must be at least 10")
    differ = browser.submit(USERS, {"action": "password", "current_password": PASSWORD,
                                    "new_password": "a new long password", "repeat_password": "another one"})
    assert error_next_to(differ.text, "repeat_password") == "The two new passwords differ"
    changed = browser.submit(USERS, {"action": "password", "current_password": PASSWORD,
                                     "new_password": "a new long password", "repeat_password": "a new long password"})
    assert changed.status_code == 303 and browser.get(USERS).status_code == 200  # this session stays
    assert other.get("/dashboard/payment-links").status_code == 303  # the other one ended
    assert Browser(client).sign_in(user.email, "a new long password").status_code == 303
