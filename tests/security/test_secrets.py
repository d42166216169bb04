"""Secrets: API keys are stored only as hashes (nowhere in the database or Redis in clear), no key
or token ever reaches a log line, and keys and tokens are long, CSPRNG-random and unguessable."""
from __future__ import annotations

import base64
import logging
import math
import re
import string
from collections import Counter

import pytest
from sqlalchemy import text

from domain.checkout_tokens import new_checkout_token
from domain.db import utcnow
from domain.ids import hash_secret, new_api_key, new_url_token
from tests.conftest import wait_for

BASE64URL = set(string.ascii_letters + string.digits + "-_")
BASE62 = set(string.ascii_letters + string.digits)


CARD_NUMBER, CVC = "4242424242424242", "7391"  # what the customer types; neither may be kept anywhere
RESPONSES: list[str] = []  # every body the flow answered


def whole_run(secret: str) -> str:
    """A regex (Python's and PostgreSQL's alike) for `secret` as a whole digit run. Random ids, tokens
    and hashes may hold any four digits by chance, so it is never matched as part of a longer run
    of id and token characters (letters, digits, '_' and '-')."""
    return f"(^|[^A-Za-z0-9_-]){secret}([^A-Za-z0-9_-]|$)"


def full_flow(merchant, client) -> list[str]:
    """Catalog, link (test mode), a share by API and by browser, the worker storing it, the hosted
    page, Pay with a card. Returns every secret the flow handled; RESPONSES holds every body."""
    RESPONSES.clear()
    shop = merchant.in_test_mode()
    price = shop.price(1500, "EUR")
    link = shop.ok("POST", "/payment-links", {"line_items": [{"price_id": price["id"]}],
                                              "success_url": "https://shop.example/done"},
                   headers={"Idempotency-Key": "flow-1"})
    merchant.get("/payment-links")
    merchant.get("/payment-links", key=merchant.api_key[:-2] + "xx")  # a wrong key: 401, and it is logged?
    opened = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "application/json"},
                                 remote_addr="198.19.251.1")
    browser = client.simulate_get(f"/api/pay/share/{link['secure_token']}", headers={"Accept": "text/html"},
                                  remote_addr="198.19.251.2")
    tokens = [opened.json["checkout_url"].rsplit("/", 1)[-1], browser.headers["location"].rsplit("/", 1)[-1]]
    session_id = opened.json["checkout_session_id"]
    wait_for(lambda: shop.get(f"/checkout-sessions/{session_id}").status_code == 200)
    shown = client.simulate_get(f"/checkout/{tokens[0]}")
    assert shown.status_code == 200
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    declined = client.simulate_post(f"/checkout/{tokens[0]}/pay", headers=form, remote_addr="198.19.251.4",
                                    body=f"email=a%40example.com&card_number=4000000000000002&exp=12%2F34&cvc={CVC}")
    paid = client.simulate_post(f"/checkout/{tokens[0]}/pay", headers=form, remote_addr="198.19.251.4",
                                body=f"email=a%40example.com&card_number={CARD_NUMBER}&exp=12%2F34&cvc={CVC}")
    assert declined.status_code == 402 and paid.status_code == 303, paid.text
    forged = client.simulate_get(f"/checkout/{tokens[1][:-3]}abc")  # a forged token
    client.simulate_get(f"/api/pay/share/{link['secure_token']}x", remote_addr="198.19.251.3")
    done = shop.get(f"/checkout-sessions/{session_id}")
    assert done.json["status"] == "complete"
    payment = shop.get(f"/payments?checkout_session_id={session_id}")
    RESPONSES.extend(r.text for r in (opened, browser, shown, declined, paid, forged, done, payment))
    return [merchant.api_key, merchant.test_api_key, link["secure_token"], *tokens]


def test_no_card_number_or_cvc_in_any_response(merchant, client, celery_worker):
    full_flow(merchant, client)
    assert len(RESPONSES) == 8
    for body in RESPONSES:
        assert CARD_NUMBER not in body
        assert re.search(whole_run(CVC), body) is None, f"a response holds the CVC: {body[:200]}"


def test_no_key_or_token_is_ever_logged(merchant, client, celery_worker, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = full_flow(merchant, client)
    assert len(caplog.records) > 5, "the flow logged nothing: this test would prove nothing"
    for record in caplog.records:
        shown = " ".join([record.getMessage(), repr(record.args), record.exc_text or "", str(record.__dict__)])
        for secret in [*secrets, CARD_NUMBER, "4000000000000002"]:
            assert secret not in shown, f"{record.name} logged a secret: {record.getMessage()[:200]}"
        assert f"cvc={CVC}" not in shown and f"'{CVC}'" not in shown


def test_database_errors_never_carry_parameters(deps):
    """A failing statement's error (logged by the API's last-resort handler, by Celery's retry
    line) must not repeat its parameters: they are tokens on the share and creation paths."""
    secret = new_url_token()
    with pytest.raises(Exception) as failure, deps.engine.connect() as conn:
        conn.execute(text("SELECT CAST(:token AS text), 1 / 0"), {"token": secret})
    assert "division by zero" in str(failure.value)
    assert secret not in str(failure.value) and secret not in repr(failure.value)


def test_keys_are_nowhere_in_the_database_or_redis_in_clear(merchant, client, celery_worker, deps, redis_client,
                                                            settings):
    secrets = full_flow(merchant, client)
    keys = secrets[:2]
    with deps.engine.connect() as conn:
        columns = conn.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')")).all()
        assert len(columns) > 20
        for table, column in columns:
            for key in keys:
                found = conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE :like'),
                                     {"like": f"%{key[8:]}%"}).scalar_one()
                assert found == 0, f"{table}.{column} holds an API key in clear"
            # As whole digit runs: ids and tokens, in their own columns and inside JSON such as
            # events.data, may hold any four digits by chance.
            for card_secret in (CARD_NUMBER, "4000000000000002", CVC):
                found = conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ~ :pattern'),
                                     {"pattern": whole_run(card_secret)}).scalar_one()
                assert found == 0, f"{table}.{column} holds a card number or CVC"
        hashes = set(conn.execute(text("SELECT key_hash FROM api_keys WHERE account_id = :a"),
                                  {"a": merchant.account_id}).scalars())
    assert hashes == {hash_secret(key) for key in keys}
    for name in redis_client.scan_iter(match=f"{settings.redis_key_prefix}*", count=1000):
        kind = redis_client.type(name)
        values = {b"string": lambda: [redis_client.get(name)], b"list": lambda: redis_client.lrange(name, 0, -1),
                  b"hash": lambda: list(redis_client.hgetall(name).values()),
                  b"zset": lambda: redis_client.zrange(name, 0, -1)}.get(kind, lambda: [])()
        for value in values:
            assert not any(key[8:].encode() in (value or b"") for key in keys), f"Redis {name!r} holds an API key"


def bits_per_char(alphabet: set[str]) -> float:
    return math.log2(len(alphabet))


def assert_uniform(tokens: list[str], alphabet: set[str]) -> None:
    """Every symbol of the alphabet turns up about equally often (a broken generator - a constant,
    hex only, a clock - fails this at once)."""
    counts = Counter("".join(tokens))
    assert set(counts) <= alphabet
    expected = sum(counts.values()) / len(alphabet)
    assert len(counts) == len(alphabet), f"only {len(counts)} of {len(alphabet)} symbols ever used"
    assert all(0.6 * expected < n < 1.4 * expected for n in counts.values()), counts.most_common(3)


def random_bytes(tokens: list[str]) -> list[bytes]:
    """base64url tokens back to their bytes (whose count is the token's entropy in bytes)."""
    return [base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) for token in tokens]


def assert_uniform_bytes(chunks: list[bytes]) -> None:
    counts = Counter(b"".join(chunks))
    expected = sum(counts.values()) / 256
    assert len(counts) == 256 and all(0.5 * expected < n < 1.5 * expected for n in counts.values()), \
        counts.most_common(3)


def test_share_tokens_are_128_bits_or_more_of_csprng(merchant):
    made = [merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price()["id"]}]})
            ["secure_token"] for _ in range(3)]
    tokens = made + [new_url_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert set(token) <= BASE64URL, token
    assert all(len(chunk) * 8 >= 128 for chunk in random_bytes(tokens))
    assert_uniform_bytes(random_bytes(tokens[3:]))


def test_checkout_tokens_carry_128_random_bits_and_a_128_bit_signature(settings):
    tokens = [new_checkout_token(settings.secret_key, utcnow()) for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    randoms, signatures = [], []
    for token in tokens:
        random_part, minted, signature = token.split(".")
        assert re.fullmatch(r"[0-9a-z]+", minted)
        assert set(random_part) <= BASE64URL and set(signature) <= BASE64URL
        randoms.append(random_part)
        signatures.append(signature)
    assert all(len(chunk) * 8 >= 128 for chunk in random_bytes(randoms) + random_bytes(signatures))
    assert_uniform_bytes(random_bytes(randoms))
    assert_uniform_bytes(random_bytes(signatures))
    other_secret = new_checkout_token(b"another installation's secret", utcnow())
    assert other_secret.split(".")[2] not in signatures


def test_api_keys_are_190_bits_of_base62(merchant):
    keys = [new_api_key(True) for _ in range(1000)] + [new_api_key(False) for _ in range(1000)]
    randoms = [key.split("_", 2)[2] for key in keys]
    assert len(set(randoms)) == len(randoms)
    assert all(len(r) * bits_per_char(BASE62) >= 128 for r in randoms)
    assert_uniform(randoms, BASE62)
    assert merchant.api_key.startswith("sk_live_") and merchant.test_api_key.startswith("sk_test_")
