"""Slow clients against the web process as served (gunicorn.conf.py, `api.wsgi:app`): clients that
send half a request and then trickle the rest must not hold the workers that everyone else needs.

With the sync workers this replaced, four clients that sent a request line and a Host header and
then nothing stalled all four workers: a normal request waited 32.7 s, until gunicorn killed
them. Here 8 clients trickle (twice the default worker count, so neither worker processes nor
their threads can be enough on their own) and a normal request is still answered within 1 s.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.faults.conftest import engine_for, make_shop
from tests.faults.stack import call

pytestmark = pytest.mark.faults

SLOW_CLIENTS = 8
TRICKLE_SECONDS = 6.0  # each slow client sends a byte every half second for this long


def trickle(port: int, head: bytes, rest: bytes, stop: threading.Event, sent: list[int]) -> None:
    """Send `head` at once, then `rest` one byte at a time, until `stop` (never finishing it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        for byte in rest:
            if stop.wait(0.5):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return  # the server gave up on us: also fine
            sent.append(1)


SLOW_HEADERS = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"a" * 200)
SLOW_BODY = (b"POST /api/acct_slow/products HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 500\r\n\r\n", b'{"name": "' + b"b" * 480)


@pytest.mark.parametrize("slow", [SLOW_HEADERS, SLOW_BODY], ids=["trickled headers", "trickled body"])
def test_slow_clients_do_not_hold_the_workers(settings, stack_factory, slow):
    stack = stack_factory(settings.database_url, settings.redis_url)
    stack.start_web(workers=2)  # gunicorn.conf.py's worker class and default count
    engine = engine_for(settings.database_url)
    shop = make_shop(stack, engine)
    port = int(stack.web_url.rsplit(":", 1)[1])

    stop, sent = threading.Event(), []
    clients = [threading.Thread(target=trickle, args=(port, *slow, stop, sent), daemon=True)
               for _ in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    try:
        time.sleep(1.0)  # every slow client is connected and part-way through its request
        answers = []
        deadline = time.monotonic() + TRICKLE_SECONDS - 1.5
        while time.monotonic() < deadline:  # normal requests all the while the slow ones trickle
            answers.append(("healthz", call(stack.web_url, "GET", "/healthz", timeout=5)))
            answers.append(("merchant list", shop.api("GET", "/payment-links", timeout=5)))
            answers.append(("share open", shop.open_link(timeout=5)))
        still_trickling = sum(client.is_alive() for client in clients)
    finally:
        stop.set()
        for client in clients:
            client.join(5)
        engine.dispose()

    slowest = max(answers, key=lambda named: named[1].seconds)
    print(f"\n{SLOW_CLIENTS} clients trickling ({len(sent)} bytes sent one by one): {len(answers)} normal requests, "
          f"slowest {slowest[0]} in {slowest[1].seconds * 1000:.0f} ms")
    assert still_trickling == SLOW_CLIENTS, "the slow clients were cut off: the test did not hold them open"
    assert all(answer.status == 200 for _, answer in answers), [(n, a.status, a.text[:200]) for n, a in answers]
    assert slowest[1].seconds < 1.0, f"{slowest[0]} took {slowest[1].seconds:.2f} s behind {SLOW_CLIENTS} slow clients"
