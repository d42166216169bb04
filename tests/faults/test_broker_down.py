"""Redis down (a private one, killed or frozen): the share endpoint answers 503 within 2 s and
hands out no URL, the merchant API keeps working, /readyz names Redis, and everything recovers
by itself once Redis is back (gunicorn and the worker are never restarted)."""
from __future__ import annotations

import time

import pytest

from tests.faults.conftest import assert_no_secrets_logged, engine_for, make_shop, stored_ids
from tests.faults.stack import call, wait_until

pytestmark = pytest.mark.faults


def assert_refused_fast(shop, seconds: float = 2.0):
    answer = shop.open_link()
    assert answer.status == 503, answer.text
    assert answer.seconds < seconds, f"503 took {answer.seconds:.2f} s"
    assert answer.json["error"]["code"] == "service_unavailable"
    assert "/checkout/" not in answer.text and "checkout_session_id" not in answer.text
    assert int(answer.headers["retry-after"]) >= 1
    return answer


def test_redis_killed_then_back(private_postgres, private_redis, stack_factory):
    """One Redis for broker and limiter (the default deployment), killed outright."""
    database_url = private_postgres.url("paymentkit")
    stack = stack_factory(database_url, private_redis.url)
    stack.start_web(workers=2)
    stack.start_worker()
    engine = engine_for(database_url)
    shop = make_shop(stack, engine)
    before = [shop.open_link().json["checkout_session_id"] for _ in range(3)]
    wait_until(lambda: set(before) <= set(stored_ids(engine, shop.link["id"])), 20, what="sessions stored")

    private_redis.kill()
    refused = [assert_refused_fast(shop).seconds for _ in range(6)]  # each gunicorn worker, its own connections
    # The merchant API needs no Redis: reads and writes go on.
    assert shop.api("GET", "/payment-links").status == 200
    created = shop.api("POST", "/products", {"name": "Made while Redis was down"})
    assert created.status == 200, created.text
    ready = call(stack.web_url, "GET", "/readyz")
    assert ready.status == 503
    assert ready.json == {"status": "unavailable"} and "not ready: redis down" in stack.logs()

    private_redis.process.start()  # same port, empty: nothing restarts gunicorn or the worker
    wait_until(private_redis.answers, 10, what="Redis back")
    back = time.monotonic()
    deadline = time.monotonic() + 15
    after = []
    while len(after) < 6:
        answer = shop.open_link()
        if answer.status == 200:
            after.append(answer.json["checkout_session_id"])
        else:
            assert answer.status == 503, answer.text
            assert time.monotonic() < deadline, "the share endpoint did not recover within 15 s"
            time.sleep(0.2)
    share_back = time.monotonic() - back
    assert call(stack.web_url, "GET", "/readyz").status == 200
    # The worker reconnected by itself too: what was accepted after the outage is stored.
    wait_until(lambda: set(after) <= set(stored_ids(engine, shop.link["id"])), 40, 0.2,
               "sessions accepted after the outage stored")
    print(f"\nRedis killed: share 503 in {min(refused):.2f}-{max(refused):.2f} s; after Redis was back the share "
          f"endpoint answered 200 within {share_back:.1f} s and the worker stored again within "
          f"{time.monotonic() - back:.1f} s")
    assert sorted(stored_ids(engine, shop.link["id"])) == sorted(before + after)
    assert_no_secrets_logged(stack, shop)
    engine.dispose()


def test_broker_frozen_with_limiter_elsewhere(private_postgres, private_redis, redis_client, settings,
                                              stack_factory):
    """The broker (alone) stops answering but keeps its port open: SIGSTOP, the nastiest kind of
    down. The limiter lives on another Redis, so this is the enqueue path's own timeout."""
    database_url = private_postgres.url("paymentkit")
    stack = stack_factory(database_url, private_redis.url, RATE_LIMIT_REDIS_URL=settings.redis_url)
    stack.start_web(workers=2)
    stack.start_worker()
    engine = engine_for(database_url)
    shop = make_shop(stack, engine)
    assert shop.open_link().status == 200

    private_redis.pause()
    try:
        refused = [assert_refused_fast(shop).seconds for _ in range(4)]
        ready = call(stack.web_url, "GET", "/readyz")
        assert ready.status == 503
        assert ready.json == {"status": "unavailable"}
        assert "not ready: broker down" in stack.logs()
        assert ready.seconds < 2.5
        assert shop.api("GET", "/payment-links").status == 200
    finally:
        private_redis.resume()
    back = time.monotonic()
    wait_until(lambda: shop.open_link().status == 200, 15, 0.2, "share endpoint recovered")
    print(f"\nbroker frozen: share 503 in {min(refused):.2f}-{max(refused):.2f} s, /readyz 503 in "
          f"{ready.seconds:.2f} s; 200 again {time.monotonic() - back:.1f} s after SIGCONT")
    assert_no_secrets_logged(stack, shop)
    engine.dispose()
