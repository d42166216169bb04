"""`GET/PATCH /api/{account_id}/account` (SPEC 10): what customers see of the merchant. Only
display_name, support_email and brand_color change; null resets; every bad value a 400 naming
its field; the hosted pages read the same settings."""
from __future__ import annotations

import pytest

from domain import accounts

FIELDS = {"id", "object", "name", "display_name", "support_email", "brand_color", "created_at"}


def test_an_account_reads_as_its_name_until_it_has_display_settings(merchant):
    account = merchant.ok("GET", "/account")
    assert set(account) == FIELDS
    assert account["id"] == merchant.account_id and account["object"] == "account"
    assert account["name"] == account["display_name"] == "Test shop"
    assert account["support_email"] is None and account["brand_color"] is None
    assert account["created_at"].endswith("Z")


def test_a_patch_changes_what_it_names_and_nothing_else(merchant, uow_factory):
    changed = merchant.ok("PATCH", "/account", {"display_name": "Ada's Teas", "support_email": "help@ada.example",
                                                "brand_color": "#1A73e8"})
    assert (changed["display_name"], changed["support_email"], changed["brand_color"]) == \
        ("Ada's Teas", "help@ada.example", "#1A73e8")
    assert changed["name"] == "Test shop"
    again = merchant.ok("PATCH", "/account", {"brand_color": "#000000"})
    assert (again["display_name"], again["support_email"], again["brand_color"]) == \
        ("Ada's Teas", "help@ada.example", "#000000")
    assert merchant.ok("GET", "/account") == again
    with uow_factory() as uow:  # what the hosted checkout shows
        assert accounts.display_of(uow, merchant.account_id) == accounts.MerchantDisplay(
            "Ada's Teas", "help@ada.example", "#000000")


def test_null_resets_the_display_name_to_the_name_and_removes_the_others(merchant, uow_factory):
    merchant.ok("PATCH", "/account", {"display_name": "Ada's Teas", "support_email": "help@ada.example",
                                      "brand_color": "#1a73e8"})
    reset = merchant.ok("PATCH", "/account", {"display_name": None, "support_email": None, "brand_color": None})
    assert (reset["display_name"], reset["support_email"], reset["brand_color"]) == ("Test shop", None, None)
    with uow_factory() as uow:
        assert accounts.display_of(uow, merchant.account_id).name == "Test shop"


def test_both_modes_keys_see_and_change_the_one_account(merchant):
    merchant.in_test_mode().ok("PATCH", "/account", {"display_name": "From the test key"})
    assert merchant.ok("GET", "/account")["display_name"] == "From the test key"


@pytest.mark.parametrize("field, value", [
    ("display_name", ""), ("display_name", "   "), ("display_name", "x" * 256), ("display_name", 7),
    ("display_name", "a\u0000b"),
    ("support_email", "not an email"), ("support_email", ""), ("support_email", "a@b"),
    ("support_email", "a @example.com"), ("support_email", "x" * 510 + "@a.io"),
    ("brand_color", "#12345"), ("brand_color", "#1234567"), ("brand_color", "red"), ("brand_color", "#12345g"),
    ("brand_color", "123456"), ("brand_color", "#123456\n"), ("brand_color", ""),
])
def test_a_bad_value_is_a_400_naming_its_field_and_changes_nothing(merchant, field, value):
    before = merchant.ok("GET", "/account")
    result = merchant.patch("/account", json={field: value})
    assert result.status_code == 400, result.text
    assert result.json["error"]["param"] == field
    assert merchant.ok("GET", "/account") == before


def test_the_longest_values_are_accepted(merchant):
    email = "x" * 507 + "@a.io"
    changed = merchant.ok("PATCH", "/account", {"display_name": "d" * 255, "support_email": email})
    assert changed["display_name"] == "d" * 255 and changed["support_email"] == email


@pytest.mark.parametrize("field", ["name", "id", "created_at", "object", "livemode", "brandColor"])
def test_any_other_field_is_a_400_naming_it(merchant, field):
    result = merchant.patch("/account", json={field: "x", "display_name": "Fine"})
    assert result.status_code == 400
    assert result.json["error"]["param"] == field and result.json["error"]["code"] == "parameter_invalid"
    assert merchant.ok("GET", "/account")["display_name"] == "Test shop"


def test_another_accounts_key_reads_and_changes_nothing(merchant, other_merchant):
    for key in (other_merchant.api_key, other_merchant.test_api_key):
        assert merchant.get("/account", key=key).status_code == 404
        assert merchant.patch("/account", json={"display_name": "Taken"}, key=key).status_code == 404
    assert merchant.ok("GET", "/account")["display_name"] == "Test shop"
