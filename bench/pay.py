"""Paying a session: the real `POST /checkout/{token}/pay` (test processor) against bare writes.

    python -m bench pay [--count 300] [--rounds 3]

In-process and sequential (one client, the app called as WSGI through Falcon's test client, so no
HTTP server's cost is in either figure): `--count` stored test-mode sessions of a one-price link
are paid with the test card through the real route (rate limit, form, the pay flow's
transactions, the events it writes, the redirect). The baseline does the same rows' writes in
one transaction on the driver (psycopg, autocommit off): the statements the real pay ran,
captured once (INSERT/UPDATE/DELETE only, printed), replayed with the captured parameters and
fresh ids. Rounds alternate real and bare; the ratio is the median of each round's pays/s
over bare/s.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from contextlib import ExitStack

from bench.common import Row, api_poster, delete_redis_keys, prepare_environment, scratch_database, shop

PAY_FORM = "email=ada%40example.com&name=Ada&card_number=4242+4242+4242+4242&exp=12%2F34&cvc=123"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def make_sessions(deps, settings, secure_token: str, count: int) -> list[str]:
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import utcnow
    from domain.ids import new_id
    from domain.link_reader import LinkReader

    reader = LinkReader(deps.engine)
    link = reader.find(secure_token)
    reader.close()
    tokens = []
    with deps.units() as uow:
        for _ in range(count):
            now = utcnow()
            token = new_checkout_token(settings.secret_key, now)
            checkout_sessions.store(uow, checkout_sessions.new_session(link, session_id=new_id("cs", False),
                                                                       checkout_token=token, now=now))
            tokens.append(token)
        uow.commit()
    return tokens


def pay_all(client, tokens: list[str]) -> float:
    started = time.perf_counter()
    for n, token in enumerate(tokens):
        result = client.simulate_post(f"/checkout/{token}/pay", body=PAY_FORM, headers=FORM,
                                      remote_addr=f"10.9.{n // 250 % 250}.{n % 250 + 1}")
        if result.status_code != 303:
            raise RuntimeError(f"pay answered {result.status}: {result.text[:200]}")
    return time.perf_counter() - started


def statement_kind(statement: str) -> str:
    """`SELECT payment_links`, `INSERT events`, ...: the verb and the first table it names."""
    import re

    verb = statement.lstrip().split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table[1] if table else ''}".strip()


def capture_writes(deps, client, token: str) -> tuple[list[tuple[str, object]], dict[str, int]]:
    """The INSERT/UPDATE/DELETE statements (SQL and parameters) one real pay runs, and how many
    statements, commits and pool checkouts it made in all."""
    from sqlalchemy import event

    writes: list[tuple[str, object]] = []
    counts = {"statements": 0, "commits": 0, "checkouts": 0, "order": []}

    def seen(conn, cursor, statement, parameters, context, executemany):
        counts["statements"] += 1
        counts["order"].append(statement_kind(statement))
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append((statement, parameters))

    def committed(conn):
        counts["commits"] += 1

    def checked_out(*args):
        counts["checkouts"] += 1

    listeners = [(deps.engine, "before_cursor_execute", seen), (deps.engine, "commit", committed),
                 (deps.engine.pool, "checkout", checked_out)]
    for target, name, fn in listeners:
        event.listen(target, name, fn)
    try:
        pay_all(client, [token])
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
    return writes, counts


_replays = itertools.count()


def bare_all(url: str, writes: list[tuple[str, object]], count: int) -> float:
    """`count` transactions, each the captured writes with its own ids (a suffix, new in every
    transaction of the run, on every string parameter that is an id, so unique constraints hold)."""
    import psycopg
    from psycopg.types.json import Jsonb

    def fresh(value, n):
        if isinstance(value, str) and "_" in value and " " not in value and len(value) < 64:
            return f"{value}{n}"
        if isinstance(value, (dict, list)):
            return Jsonb(value)
        return value

    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for n in (next(_replays) for _ in range(count)):
            with conn.transaction():
                for statement, parameters in writes:
                    if isinstance(parameters, dict):
                        conn.execute(statement, {k: fresh(v, n) for k, v in parameters.items()})
                    else:
                        conn.execute(statement, [fresh(v, n) for v in parameters] if parameters else None)
        return time.perf_counter() - started


def run(count: int = 300, rounds: int = 3) -> tuple[list[Row], str]:
    import redis

    env = prepare_environment()
    redis_client = redis.Redis.from_url(env["REDIS_URL"])
    with ExitStack() as stack:
        stack.callback(delete_redis_keys, redis_client, env["REDIS_KEY_PREFIX"])
        url = stack.enter_context(scratch_database("pay"))
        os.environ["DATABASE_URL"] = url
        from runtime.settings import Settings

        settings = Settings.from_env(dict(os.environ))
        deps, client, made = stack.enter_context(shop(settings, "Bench shop"))
        ok = api_poster(client, made.account_id, made.test_api_key)

        price = ok("/prices", {"product_id": ok("/products", {"name": "Mug"})["id"], "unit_amount_atom": 1999,
                               "currency": "USD"})
        link = ok("/payment-links", {"line_items": [{"price_id": price["id"], "quantity": 1}]})
        secure_token = link["url"].rsplit("/", 1)[-1]
        writes, counts = capture_writes(deps, client, make_sessions(deps, settings, secure_token, 1)[0])
        pay_all(client, make_sessions(deps, settings, secure_token, 50))  # warm-up
        ratios, real_rates, bare_rates = [], [], []
        for _ in range(rounds):
            tokens = make_sessions(deps, settings, secure_token, count)
            real = count / pay_all(client, tokens)
            bare = count / bare_all(url, writes, count)
            real_rates.append(real)
            bare_rates.append(bare)
            ratios.append(real / bare)
            print(f"  round: real {real:,.0f} pays/s, bare writes {bare:,.0f}/s, ratio {real / bare:.2f}", flush=True)
    ratio = statistics.median(ratios)
    tables = [statement.split("(", 1)[0].split(" SET ", 1)[0].strip() for statement, _ in writes]
    lines = [f"pay: {count:,} sessions per round, {rounds} rounds, sequential, in-process; a pay writes "
             f"{len(writes)} statements: {'; '.join(tables)}",
             f"one real pay: {counts['statements']} statements in all, {counts['commits']} commits, "
             f"{counts['checkouts']} pool checkouts (each with its pre-ping); in order: "
             f"{', '.join(counts['order'])}",
             f"real {statistics.median(real_rates):,.0f} pays/s, bare writes {statistics.median(bare_rates):,.0f}/s: "
             f"pay/bare {ratio:.2f} (rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.6)"]
    rows = [Row("pay", "pays/s vs bare writes", f"real {statistics.median(real_rates):,.0f}/s",
                f"bare {statistics.median(bare_rates):,.0f}/s", ratio, ">= 0.6", ratio >= 0.6)]
    return rows, "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(prog="python -m bench pay", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows, text = run(args.count, args.rounds)
    print(text)
    print(f"(pay bench: {time.perf_counter() - started:.0f} s)")
    return rows


if __name__ == "__main__":
    main()
