"""The share endpoint under sustained load from many client IPs, with the rate limiter on, through
gunicorn and a Celery worker (subprocesses, this run's database, a Redis key space of their own):
no 5xx, every accepted session stored exactly once, and only the greedy clients throttled.

Client IPs are real source addresses: 127.0.0.0/8 is all loopback, so each request binds its own
(no X-Forwarded-For is trusted or needed). Bounded in time (LOAD_SECONDS, default 15 s) and count.
"""
from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections import Counter, defaultdict

import pytest

from tests.faults.conftest import assert_no_secrets_logged, engine_for, make_shop, stored_ids
from tests.faults.stack import Stack, call, private_dir, remove, wait_until

pytestmark = pytest.mark.faults

SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
MAX_REQUESTS = 20_000
THREADS = 12
PER_CLIENT = 8          # a polite client: under the bucket's 10
GREEDY = [f"127.9.0.{n}" for n in range(1, 5)]  # every 8th request comes from one of these
CAPACITY, REFILL_SECONDS = 10, 6


def polite_ip(n: int) -> str:
    """The n-th polite client's own address, in 127.1.0.1 - 127.8.255.254."""
    return f"127.{1 + n // (254 * 256)}.{(n // 254) % 256}.{1 + n % 254}"


@pytest.fixture
def load_stack(database_url, server_urls, redis_client):
    folder = private_dir("pkload-")
    stack = Stack(database_url=database_url, redis_url=server_urls["REDIS_URL"], folder=folder,
                  extra_env={"SHARE_RATE_CAPACITY": str(CAPACITY), "SHARE_RATE_REFILL_SECONDS": str(REFILL_SECONDS)})
    stack.start_web(workers=3)
    stack.start_worker(concurrency=2, queues="sessions")
    yield stack
    stack.close()
    remove(folder)


def test_share_under_load_loses_nothing_and_throttles_only_the_greedy(load_stack, database_url):
    engine = engine_for(database_url)
    shop = make_shop(load_stack, engine)
    path = f"/api/pay/share/{shop.link['secure_token']}"
    slots = itertools.count()
    lock = threading.Lock()
    statuses: Counter = Counter()
    by_ip: dict[str, Counter] = defaultdict(Counter)
    accepted: list[str] = []
    failures: list[str] = []
    latencies: list[float] = []
    deadline = time.monotonic() + SECONDS

    def client() -> None:
        while time.monotonic() < deadline:
            slot = next(slots)
            if slot >= MAX_REQUESTS:
                return
            ip = GREEDY[(slot // 8) % len(GREEDY)] if slot % 8 == 7 else polite_ip(slot // PER_CLIENT)
            try:
                answer = call(load_stack.web_url, "GET", path, headers={"Accept": "application/json"}, source_ip=ip,
                              timeout=15)
            except OSError as error:
                with lock:
                    failures.append(f"{ip}: {type(error).__name__}: {error}")
                continue
            with lock:
                statuses[answer.status] += 1
                by_ip[ip][answer.status] += 1
                latencies.append(answer.seconds)
                if answer.status == 200:
                    accepted.append(answer.json["checkout_session_id"])
                    shop.checkout_tokens.append(answer.json["checkout_url"].rsplit("/", 1)[-1])
                elif answer.status == 429 and int(answer.headers.get("retry-after", "0")) < 1:
                    failures.append(f"{ip}: a 429 without Retry-After")

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    total = sum(statuses.values())
    assert not failures, failures[:5]
    assert total > 500, f"only {total} requests in {elapsed:.1f} s: not a load"
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 429}, statuses
    # The limiter: polite clients never throttled; greedy ones held to the bucket.
    polite = {ip: counts for ip, counts in by_ip.items() if ip not in GREEDY}
    assert not [ip for ip, counts in polite.items() if counts[429]], "a polite client was throttled"
    allowed = CAPACITY + math.ceil(elapsed / REFILL_SECONDS) + 1
    for ip in GREEDY:
        assert by_ip[ip][429] > 0 and by_ip[ip][200] <= allowed, (ip, by_ip[ip])
    # Nothing lost, nothing doubled: every accepted answer is one stored row, and no other row.
    assert len(set(accepted)) == len(accepted) == statuses[200]
    wait_until(lambda: len(stored_ids(engine, shop.link["id"])) >= len(accepted), 120, 0.5,
               f"{len(accepted)} accepted sessions stored")
    time.sleep(1)
    assert sorted(stored_ids(engine, shop.link["id"])) == sorted(accepted)
    assert_no_secrets_logged(load_stack, shop)
    latencies.sort()
    print(f"\nshare load: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s) from {len(by_ip)} IPs, "
          f"{dict(statuses)}, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
    engine.dispose()
