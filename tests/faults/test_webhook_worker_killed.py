"""A worker SIGKILLed in the middle of a webhook delivery (the endpoint has the request, no
answer yet): the delivery is made again once the attempt's lease is over, never lost, and
recorded once it succeeds. The service runs as gunicorn and Celery subprocesses; the receiver
is a real HTTP server on loopback."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.faults.conftest import Shop, engine_for, make_stack
from tests.faults.stack import wait_until
from tests.receivers import Receiver, Reply

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def hook_stack(private_postgres, settings, faults_dir):
    url = private_postgres.url("paymentkit")
    stack = make_stack(url, settings.redis_url, faults_dir / "webhook-kills", WEBHOOK_ALLOW_PRIVATE_URLS="1")
    stack.start_web()
    yield stack, engine_for(url)
    stack.close()


def shop_in_test_mode(stack, engine) -> Shop:
    from domain.accounts import create_account
    from domain.db import UnitOfWork, session_factory

    with UnitOfWork(session_factory(engine)) as uow:
        made = create_account(uow, "Webhook faults shop")
        uow.commit()
    return Shop(stack.web_url, made.account_id, made.test_api_key, {})


@pytest.mark.parametrize("victim", ["pool process", "whole worker"])
def test_a_delivery_cut_off_by_a_killed_worker_is_made_again(hook_stack, victim):
    stack, engine = hook_stack
    worker = stack.start_worker()
    shop = shop_in_test_mode(stack, engine)
    with Receiver() as receiver:
        receiver.script(Reply(delay=30))  # the first attempt hangs: the worker is killed in it
        made = shop.api("POST", "/webhook-endpoints", {"url": receiver.url, "enabled_events": ["customer.created"]})
        assert made.status == 200, made.text
        endpoint_id = made.json["id"]
        assert shop.api("POST", "/customers", {"email": "kill@example.com"}).status == 200
        wait_until(lambda: receiver.received, 20, what="the first attempt reaching the receiver")
        if victim == "pool process":
            for child in worker.children():
                child.kill()
        else:
            worker.kill()
            worker = stack.start_worker()
        killed_at = time.monotonic()

        def delivered_again() -> bool:
            stack.send("webhooks.deliver_due")  # what beat does every 2 s
            time.sleep(1)
            return len(receiver.received) >= 2

        wait_until(delivered_again, 60, 0.1, "the delivery made again")
        waited = time.monotonic() - killed_at
        first, second = receiver.received[:2]
        assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body

        def recorded():
            with engine.connect() as conn:
                return conn.execute(text("SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = :e"),
                                    {"e": endpoint_id}).one()
        assert wait_until(lambda: recorded().status == "succeeded", 15) and recorded().attempts == 1
        time.sleep(2)
        assert len(receiver.received) == 2  # made again once, not over and over
    print(f"\nkilled ({victim}) mid-delivery: delivered again {waited:.1f} s later")
    worker.kill()
