"""`Idempotency-Key` on catalog writes: performed once per account, replayed, or refused."""
import threading
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import func, select

from domain import models
from domain.db import utcnow


def products(uow_factory, account_id) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(models.Product).where(
            models.Product.account_id == account_id))


def keyed(key: str) -> dict:
    return {"headers": {"Idempotency-Key": key}}


def test_same_key_same_body_replays_the_first_response(merchant, uow_factory):
    first = merchant.post("/products", json={"name": "Mug"}, **keyed("k-1"))
    again = merchant.post("/products", json={"name": "Mug"}, **keyed("k-1"))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert products(uow_factory, merchant.account_id) == 1


def test_same_key_different_body_is_409(merchant, uow_factory):
    merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("k-2"))
    result = merchant.post("/products", json={"name": "Cup"}, **keyed("k-2"))
    assert result.status_code == 409
    assert result.json["error"]["code"] == "idempotency_key_reused"
    assert result.json["error"]["type"] == "idempotency_error"
    assert set(result.json["error"]) == {"type", "code", "message", "param"}
    assert products(uow_factory, merchant.account_id) == 1


def test_same_key_on_another_path_is_409(merchant):
    product = merchant.product()
    merchant.ok("PATCH", f"/products/{product['id']}", {"active": False}, **keyed("k-3"))
    other = merchant.product()
    assert merchant.patch(f"/products/{other['id']}", json={"active": False}, **keyed("k-3")).status_code == 409
    assert merchant.ok("GET", f"/products/{other['id']}")["active"] is True


def test_without_a_key_every_post_writes(merchant, uow_factory):
    merchant.product("Mug")
    merchant.product("Mug")
    assert products(uow_factory, merchant.account_id) == 2


def test_a_rejected_request_does_not_use_up_the_key(merchant, uow_factory):
    bad = merchant.post("/prices", json={"product_id": "prod_live_nope00000000000000", "unit_amount_atom": 1,
                                         "currency": "USD"}, **keyed("k-4"))
    assert bad.status_code == 400
    product = merchant.product()
    fixed = merchant.post("/prices", json={"product_id": product["id"], "unit_amount_atom": 1, "currency": "USD"},
                          **keyed("k-4"))
    assert fixed.status_code == 200, fixed.text


def test_concurrent_requests_with_one_key_make_one_object(merchant, uow_factory):
    barrier = threading.Barrier(4)
    results = []

    def send():
        barrier.wait()
        results.append(merchant.post("/products", json={"name": "Racer"}, **keyed("k-race")))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    assert len({r.json["id"] for r in results}) == 1
    assert products(uow_factory, merchant.account_id) == 1


def test_keys_are_scoped_per_account(merchant, other_merchant, uow_factory):
    mine = merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("shared-key"))
    theirs = other_merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("shared-key"))
    assert mine["id"] != theirs["id"]
    assert other_merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("shared-key")) == theirs
    assert products(uow_factory, merchant.account_id) == products(uow_factory, other_merchant.account_id) == 1


def test_a_key_is_free_again_after_24_hours(merchant, uow_factory):
    first = merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("k-day"))
    with freeze_time(utcnow() + timedelta(hours=24, minutes=1)):
        later = merchant.ok("POST", "/products", {"name": "Cup"}, **keyed("k-day"))
    assert later["id"] != first["id"] and later["name"] == "Cup"
    assert products(uow_factory, merchant.account_id) == 2


def test_bad_key_header_is_400(merchant):
    for key in ("", "x" * 256, "tab\there"):
        result = merchant.post("/products", json={"name": "Mug"}, **keyed(key))
        assert result.status_code == 400, key
        assert result.json["error"]["param"] == "Idempotency-Key"


def test_a_key_is_scoped_to_its_mode_as_the_objects_are(merchant):
    """The same key with the live and the test key: two writes, one per mode (it was a 409), each
    replayed in its own mode only."""
    live = merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("k-mode"))
    test = merchant.ok("POST", "/products", {"name": "Cup"}, key=merchant.test_api_key, **keyed("k-mode"))
    assert (live["livemode"], test["livemode"]) == (True, False) and live["id"] != test["id"]
    assert merchant.ok("POST", "/products", {"name": "Mug"}, **keyed("k-mode")) == live
    assert merchant.ok("POST", "/products", {"name": "Cup"}, key=merchant.test_api_key, **keyed("k-mode")) == test
    assert merchant.post("/products", json={"name": "Cup"}, **keyed("k-mode")).status_code == 409
