"""PostgreSQL down (a private one, stopped): the merchant API and the share endpoint answer 503
quickly (the share endpoint for a link it has not cached; a cached link keeps opening), /readyz
names PostgreSQL, and the worker retries the jobs storing the sessions accepted before the outage
with backoff, storing each exactly once when the database is back."""
from __future__ import annotations

import re
import time

import pytest

from tests.faults.conftest import assert_no_secrets_logged, engine_for, make_shop, store_jobs, stored_ids
from tests.faults.stack import call, wait_until

pytestmark = pytest.mark.faults
RETRY_LINE = re.compile(r"checkout_sessions\.store\[(?P<id>[^\]]+)\] retry: Retry in (?P<seconds>\d+)s")


def retries(log: str) -> dict[str, list[int]]:
    """The countdowns of each store job's retries."""
    found: dict[str, list[int]] = {}
    for match in RETRY_LINE.finditer(log):
        found.setdefault(match["id"], []).append(int(match["seconds"]))
    return found


def retried_twice(log: str) -> set[str]:
    """The sessions whose store job has retried at least twice."""
    jobs = {job for job, delays in retries(log).items() if len(delays) >= 2}
    return {session_id for session_id, held_by in store_jobs(log).items() if jobs & set(held_by)}


def test_database_down_then_back(private_postgres, redis_client, settings, stack_factory):
    database_url = private_postgres.url("paymentkit")
    stack = stack_factory(database_url, settings.redis_url)
    stack.start_web(workers=2)
    engine = engine_for(database_url)
    shop = make_shop(stack, engine)
    # Accepted while the database is up, not yet stored: no worker runs yet.
    accepted = [shop.open_link().json["checkout_session_id"] for _ in range(5)]
    assert stored_ids(engine, shop.link["id"]) == []
    # A second link, never opened: not in the share cache.
    uncached = shop.api("POST", "/payment-links",
                        {"line_items": [{"price_id": shop.link["line_items"][0]["price_id"]}]}).json

    private_postgres.stop()
    try:
        worker = stack.start_worker()
        measured = {}
        for method, path, body in [("GET", "/payment-links", None), ("GET", f"/payment-links/{shop.link['id']}", None),
                                   ("POST", "/products", {"name": "Lost?"})]:
            answer = shop.api(method, path, body)
            assert answer.status == 503, (method, path, answer.text)
            assert answer.seconds < 2, f"{method} {path}: 503 took {answer.seconds:.2f} s"
            assert answer.json["error"]["code"] == "service_unavailable"
            assert "Traceback" not in answer.text and "psycopg" not in answer.text
            measured[f"{method} {path.split('/')[1]}"] = answer.seconds
        # The share cache holds the opened link: it keeps opening (stored once PostgreSQL is back).
        cached = shop.open_link()
        assert cached.status == 200, cached.text
        accepted.append(cached.json["checkout_session_id"])
        # A link that is not cached needs PostgreSQL: 503 within 2 s, no URL handed out.
        opened = call(stack.web_url, "GET", f"/api/pay/share/{uncached['url'].rsplit('/', 1)[-1]}",
                      headers={"Accept": "application/json"})
        assert opened.status == 503 and opened.seconds < 2 and "/checkout/" not in opened.text
        ready = call(stack.web_url, "GET", "/readyz")
        assert ready.status == 503 and ready.json == {"status": "unavailable"}  # the public port says no more
        assert "not ready: postgresql down" in stack.logs()
        # The worker keeps trying every accepted session, each with a growing, capped delay.
        wait_until(lambda: set(accepted) <= retried_twice(worker.log()), 30, 0.2,
                   "every accepted session's store job retried twice")
        time.sleep(2)
    finally:
        private_postgres.start()
    back = time.monotonic()
    seen = retries(worker.log())
    # Backoff, not a hot loop: a few retries each over the outage, never hundreds.
    assert all(len(delays) <= 8 for delays in seen.values()), seen
    assert all(delay <= 60 for delays in seen.values() for delay in delays)

    wait_until(lambda: len(stored_ids(engine, shop.link["id"])) >= len(accepted), 70, 0.2,
               "accepted sessions stored after the database came back")
    stored_after = time.monotonic() - back
    time.sleep(1)  # any duplicate delivery would land now
    assert sorted(stored_ids(engine, shop.link["id"])) == sorted(accepted)
    print(f"\nPostgreSQL stopped: merchant API 503 in {', '.join(f'{k} {v:.2f} s' for k, v in measured.items())}; "
          f"share 503 in {opened.seconds:.2f} s; retries (s) {sorted(seen.values())}; all {len(accepted)} stored "
          f"{stored_after:.1f} s after PostgreSQL was back")
    assert shop.api("GET", "/payment-links").status == 200
    assert call(stack.web_url, "GET", "/readyz").status == 200
    listed = shop.api("GET", f"/checkout-sessions?payment_link_id={shop.link['id']}&limit=100").json
    assert sorted(s["id"] for s in listed["data"]) == sorted(accepted)
    assert_no_secrets_logged(stack, shop)
    engine.dispose()
