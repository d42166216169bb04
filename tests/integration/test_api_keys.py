"""API keys (SPEC 10): list (prefix and last four, mode, created, last used; never a secret), add
one (mode live or test, by default the calling key's; the secret shown once), revoke one (refused
from the very next request), and an account always keeps one key, also under concurrent revocations.
A live key manages every key of its account; a test key only test keys (it never sees, makes or
revokes a live one)."""
from __future__ import annotations

import threading

from domain import api_keys
from domain.errors import Conflict

FIELDS = {"id", "object", "mode", "livemode", "prefix", "last4", "created_at", "last_used_at"}


def keys_of(merchant) -> list[dict]:
    listed = merchant.ok("GET", "/api-keys")
    assert listed["object"] == "list" and listed["has_more"] is False
    return listed["data"]


def test_an_account_lists_its_two_first_keys_without_their_secrets(merchant):
    keys = keys_of(merchant)
    assert {k["mode"] for k in keys} == {"live", "test"}
    for key in keys:
        assert set(key) == FIELDS and key["object"] == "api_key"
        assert key["id"].startswith(f"key_{key['mode']}_") and key["prefix"] == f"sk_{key['mode']}_"
        assert key["livemode"] == (key["mode"] == "live")
    live = next(k for k in keys if k["mode"] == "live")
    test = next(k for k in keys if k["mode"] == "test")
    assert live["last4"] == merchant.api_key[-4:] and test["last4"] == merchant.test_api_key[-4:]
    assert merchant.api_key not in str(keys) and merchant.test_api_key not in str(keys)
    assert live["last_used_at"] is not None  # this very request used it


def test_a_new_key_is_of_the_calling_keys_mode_unless_told_and_works_at_once(merchant):
    made = merchant.in_test_mode().ok("POST", "/api-keys", {})
    assert made["mode"] == "test" and made["secret"].startswith("sk_test_") and made["last4"] == made["secret"][-4:]
    assert merchant.ok("POST", "/api-keys", {})["mode"] == "live"
    another_test = merchant.ok("POST", "/api-keys", {"mode": "test"})
    assert another_test["mode"] == "test" and another_test["secret"].startswith("sk_test_")
    live = merchant.ok("POST", "/api-keys", {"mode": "live"})
    assert live["mode"] == "live" and live["secret"].startswith("sk_live_")
    assert merchant.get("/account", key=live["secret"]).status_code == 200
    listed = {k["id"]: k for k in keys_of(merchant)}
    assert made["id"] in listed and "secret" not in listed[made["id"]] and listed[live["id"]]["last_used_at"]


def test_a_test_key_never_sees_makes_or_revokes_a_live_key(merchant):
    test = merchant.in_test_mode()
    live_key = next(k for k in keys_of(merchant) if k["mode"] == "live")
    assert {k["mode"] for k in keys_of(test)} == {"test"}
    refused = test.post("/api-keys", json={"mode": "live"})
    assert refused.status_code == 400 and refused.json["error"]["param"] == "mode"
    assert test.get(f"/api-keys/{live_key['id']}").status_code == 404
    assert test.delete(f"/api-keys/{live_key['id']}").status_code == 404
    assert merchant.ok("GET", f"/api-keys/{live_key['id']}")["id"] == live_key["id"]
    assert len(keys_of(merchant)) == 2


def test_a_bad_mode_is_a_400_naming_it_and_makes_nothing(merchant):
    before = keys_of(merchant)
    for body in ({"mode": "prod"}, {"mode": None}, {"mode": "live", "name": "x"}):
        result = merchant.post("/api-keys", json=body)
        assert result.status_code == 400, result.text
        assert result.json["error"]["param"] in ("mode", "name")
    assert [k["id"] for k in keys_of(merchant)] == [k["id"] for k in before]


def test_a_revoked_key_is_refused_from_the_next_request_on(merchant):
    spare = merchant.ok("POST", "/api-keys", {"mode": "live"})
    assert merchant.get("/payment-links", key=spare["secret"]).status_code == 200
    gone = merchant.ok("DELETE", f"/api-keys/{spare['id']}")
    assert gone == {"id": spare["id"], "object": "api_key", "deleted": True}
    refused = merchant.get("/payment-links", key=spare["secret"])
    assert refused.status_code == 401 and refused.json["error"]["code"] == "api_key_invalid"
    assert spare["id"] not in {k["id"] for k in keys_of(merchant)}
    again = merchant.delete(f"/api-keys/{spare['id']}")
    assert again.status_code == 404


def test_a_key_can_revoke_itself_but_the_last_key_is_refused(merchant):
    test_key = next(k for k in keys_of(merchant) if k["mode"] == "test")
    assert merchant.ok("DELETE", f"/api-keys/{test_key['id']}")["deleted"] is True
    live_key = keys_of(merchant)[0]
    refused = merchant.delete(f"/api-keys/{live_key['id']}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "last_api_key"
    assert merchant.get("/account").status_code == 200  # still works
    spare = merchant.ok("POST", "/api-keys", {})
    assert merchant.ok("DELETE", f"/api-keys/{live_key['id']}", key=merchant.api_key)["deleted"] is True
    assert merchant.get("/account").status_code == 401  # the caller revoked its own key
    assert merchant.get("/account", key=spare["secret"]).status_code == 200


def test_another_accounts_key_id_is_not_found(merchant, other_merchant):
    theirs = keys_of(other_merchant)[0]
    assert merchant.delete(f"/api-keys/{theirs['id']}").status_code == 404
    assert merchant.delete("/api-keys/key_live_nonexistent0000000").status_code == 404
    assert len(keys_of(other_merchant)) == 2


def test_two_concurrent_revocations_of_the_last_two_keys_leave_one(merchant, uow_factory):
    ids = [k["id"] for k in keys_of(merchant)]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def revoke(key_id: str) -> None:
        with uow_factory() as uow:
            start.wait()
            try:
                api_keys.revoke(uow, merchant.account_id, key_id)
                uow.commit()
                outcomes.append("revoked")
            except Conflict:
                outcomes.append("refused")

    threads = [threading.Thread(target=revoke, args=(key_id,)) for key_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "revoked"]
    with uow_factory() as uow:
        assert len(api_keys.active(uow, merchant.account_id)) == 1
