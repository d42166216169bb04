"""`GET/PUT /api/{account_id}/processor` (SPEC 7): each mode's processor. Test mode defaults to
the built-in `test`, live mode has none until one is chosen and never `test`; `stripe` takes its
three keys, of the API key's own mode. Secrets are stored only encrypted and read back masked."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from domain.models import ProcessorSetting

FIELDS = {"object", "livemode", "processor", "publishable_key", "secret_key", "webhook_secret", "updated_at"}
SECRET, PUBLISHABLE, WEBHOOK = "sk_test_51SecretValueXyZ9a8b7c6", "pk_test_51PublicValueQwE", "whsec_WebhookSecret0987zZ"
LIVE = {"processor": "stripe", "secret_key": "sk_live_51LiveSecretAbc123", "publishable_key": "pk_live_51LivePub0000",
        "webhook_secret": "whsec_LiveHook1234abcd"}
STRIPE = {"processor": "stripe", "secret_key": SECRET, "publishable_key": PUBLISHABLE, "webhook_secret": WEBHOOK}


@pytest.fixture
def shop(merchant):
    return merchant.in_test_mode()


def test_test_mode_takes_payments_through_the_test_processor_until_told_otherwise(shop):
    setting = shop.ok("GET", "/processor")
    assert set(setting) == FIELDS
    assert setting == {"object": "processor_setting", "livemode": False, "processor": "test", "publishable_key": None,
                       "secret_key": None, "webhook_secret": None, "updated_at": None}


def test_live_mode_has_no_processor_until_one_is_chosen(merchant):
    setting = merchant.ok("GET", "/processor")
    assert setting["livemode"] is True and setting["processor"] is None


def test_the_test_processor_cannot_be_chosen_for_live_mode(merchant):
    result = merchant._call("PUT", "/processor", json={"processor": "test"})
    assert result.status_code == 400
    assert (result.json["error"]["param"], result.json["error"]["code"]) == ("processor", "livemode_mismatch")
    assert merchant.ok("GET", "/processor")["processor"] is None


def test_stripe_keys_come_back_masked_and_never_whole(shop):
    chosen = shop.ok("PUT", "/processor", STRIPE)
    assert chosen["processor"] == "stripe" and chosen["livemode"] is False
    assert chosen["publishable_key"] == PUBLISHABLE  # publishable: made to be shown
    assert chosen["secret_key"] == "sk_test_…b7c6" and chosen["webhook_secret"] == "…87zZ"
    assert chosen["updated_at"] is not None
    read = shop.ok("GET", "/processor")
    assert read == chosen
    for body in (chosen, read):
        assert SECRET not in str(body) and WEBHOOK not in str(body)
        assert SECRET[8:-4] not in str(body) and WEBHOOK[6:-4] not in str(body)


def test_the_database_holds_the_secrets_only_encrypted(shop, deps):
    shop.ok("PUT", "/processor", STRIPE)
    with deps.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM processor_settings WHERE account_id = :a AND NOT livemode"),
                           {"a": shop.account_id}).mappings().one()
        for column, value in row.items():
            shown = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
            for secret in (SECRET, WEBHOOK, SECRET[8:], WEBHOOK[6:]):
                assert secret not in shown, f"processor_settings.{column} holds a secret in clear"
    assert deps.processors.box.open(bytes(row["secret_key_encrypted"])) == SECRET
    assert deps.processors.box.open(bytes(row["webhook_secret_encrypted"])) == WEBHOOK
    assert row["publishable_key"] == PUBLISHABLE


def test_each_mode_keeps_its_own_processor(merchant, shop):
    merchant.ok("PUT", "/processor", LIVE)
    assert shop.ok("GET", "/processor")["processor"] == "test"
    shop.ok("PUT", "/processor", STRIPE)
    live = merchant.ok("GET", "/processor")
    assert live["livemode"] is True and live["publishable_key"] == LIVE["publishable_key"]
    assert live["secret_key"] == "sk_live_…c123"


def test_going_back_to_the_test_processor_forgets_the_stripe_keys(shop, uow_factory):
    shop.ok("PUT", "/processor", STRIPE)
    back = shop.ok("PUT", "/processor", {"processor": "test"})
    assert (back["processor"], back["publishable_key"], back["secret_key"], back["webhook_secret"]) == \
        ("test", None, None, None)
    with uow_factory() as uow:
        row = uow.session.get(ProcessorSetting, (shop.account_id, False))
        assert row.secret_key_encrypted is None and row.webhook_secret_encrypted is None


@pytest.mark.parametrize("body, param, code", [
    ({"processor": "stripe", "secret_key": SECRET, "publishable_key": PUBLISHABLE}, "webhook_secret",
     "parameter_missing"),
    ({"processor": "stripe"}, "secret_key", "parameter_missing"),
    ({**STRIPE, "secret_key": "pk_test_51PublicValueQwE"}, "secret_key", "parameter_invalid"),
    ({**STRIPE, "publishable_key": SECRET}, "publishable_key", "parameter_invalid"),
    ({**STRIPE, "webhook_secret": "wh_0987654321"}, "webhook_secret", "parameter_invalid"),
    ({**STRIPE, "secret_key": "sk_test_1234567"}, "secret_key", "parameter_invalid"),  # its mask would be all of it
    ({**STRIPE, "secret_key": SECRET + " "}, "secret_key", "parameter_invalid"),
    ({**STRIPE, "secret_key": "sk_test_" + "x" * 248}, "secret_key", "parameter_invalid"),
    ({**STRIPE, "secret_key": LIVE["secret_key"]}, "secret_key", "livemode_mismatch"),
    ({**STRIPE, "publishable_key": LIVE["publishable_key"]}, "publishable_key", "livemode_mismatch"),
    ({"processor": "test", "secret_key": SECRET}, "secret_key", "parameter_invalid"),
    ({"processor": "paypal"}, "processor", "parameter_invalid"),
    ({**STRIPE, "account": "acct_1"}, "account", "parameter_invalid"),
])
def test_a_bad_choice_is_a_400_naming_its_field_and_changes_nothing(shop, body, param, code):
    before = shop.ok("GET", "/processor")
    result = shop._call("PUT", "/processor", json=body)
    assert result.status_code == 400, result.text
    assert (result.json["error"]["param"], result.json["error"]["code"]) == (param, code)
    assert shop.ok("GET", "/processor") == before


def test_live_mode_takes_live_keys_only(merchant):
    result = merchant._call("PUT", "/processor", json=STRIPE)
    assert result.status_code == 400
    assert (result.json["error"]["param"], result.json["error"]["code"]) == ("secret_key", "livemode_mismatch")


def test_a_restricted_key_is_a_secret_key(shop):
    chosen = shop.ok("PUT", "/processor", {**STRIPE, "secret_key": "rk_test_51RestrictedKey42"})
    assert chosen["secret_key"] == "rk_test_…ey42"


def test_another_accounts_key_reads_and_changes_nothing(shop, other_merchant):
    for key in (other_merchant.api_key, other_merchant.test_api_key):
        assert shop.get("/processor", key=key).status_code == 404
        assert shop._call("PUT", "/processor", json=STRIPE, key=key).status_code == 404
    assert shop.ok("GET", "/processor")["processor"] == "test"
