"""The share endpoint tells nobody which tokens exist: an unknown token, an inactive link and an
unsellable one get the same answer, byte for byte, in the same time."""
from __future__ import annotations

import statistics
import time

import pytest

from domain.ids import new_url_token

# Headers that differ per request by design (an id, the limiter's own clock).
PER_REQUEST = {"x-request-id", "date", "ratelimit-reset", "ratelimit"}
_ips = iter(range(1, 10_000_000))


def fresh_ip() -> str:
    n = next(_ips)
    return f"198.18.{(n >> 8) & 255}.{n & 255}"  # a benchmark range no other test uses


@pytest.fixture
def tokens(merchant) -> dict[str, str]:
    price = merchant.price(1000, "USD")
    inactive = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}]})
    merchant.ok("DELETE", f"/payment-links/{inactive['id']}")
    other_price = merchant.price(1000, "USD")
    unsellable = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": other_price["id"]}]})
    merchant.ok("PATCH", f"/prices/{other_price['id']}", {"active": False})
    return {"unknown": new_url_token(), "inactive": inactive["secure_token"], "unsellable": unsellable["secure_token"]}


def open_token(client, token: str, accept: str):
    return client.simulate_get(f"/api/pay/share/{token}", headers={"Accept": accept}, remote_addr=fresh_ip())


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_unknown_inactive_and_unsellable_answer_alike(client, tokens, accept):
    answers = {kind: open_token(client, token, accept) for kind, token in tokens.items()}
    bodies = {kind: answer.content for kind, answer in answers.items()}
    assert all(answer.status_code == 404 for answer in answers.values())
    assert len(set(bodies.values())) == 1, "the bodies tell the cases apart"
    headers = {kind: {k: v for k, v in answer.headers.items() if k.lower() not in PER_REQUEST}
               for kind, answer in answers.items()}
    assert headers["unknown"] == headers["inactive"] == headers["unsellable"]


def test_an_unknown_token_and_an_inactive_link_take_the_same_time(client, tokens):
    """Medians over 300 requests each, interleaved (so drifts of the machine hit both alike)."""
    timings: dict[str, list[float]] = {"unknown": [], "inactive": []}
    for _ in range(20):  # warm the pool, the caches, the code paths
        for kind in timings:
            open_token(client, tokens[kind], "application/json")
    for round_ in range(300):
        order = ("unknown", "inactive") if round_ % 2 else ("inactive", "unknown")
        for kind in order:
            token = tokens[kind] if kind == "inactive" else new_url_token()
            started = time.perf_counter()
            answer = open_token(client, token, "application/json")
            timings[kind].append(time.perf_counter() - started)
            assert answer.status_code == 404
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    difference_ms = abs(medians["unknown"] - medians["inactive"]) * 1000
    assert difference_ms < 2.0, f"medians differ by {difference_ms:.2f} ms: {medians}"
    print(f"\nshare 404 medians: unknown {medians['unknown'] * 1000:.2f} ms, inactive "
          f"{medians['inactive'] * 1000:.2f} ms")
