"""Expiry sweep vs one bare UPDATE, over 100,000 due sessions, in a scratch database.

    .venv/bin/python -m bench.expiry [--rows N] [--batch-sizes 5000,10000] [--fan-out N] [--curve 10000,100000,1000000]

Prints rows/s of `domain.expiry.sweep` at each batch size and of one set-based
`UPDATE ... WHERE status = 'open' AND expires_at <= now` of the same rows, in `--rounds` rounds
(the order rotating), and the ratio sweep / bare within each round, medians (target >= 0.7).
Every measurement starts from the same state: rows reset to open, VACUUM ANALYZE, CHECKPOINT.
Then the whole path with follow-up jobs for `--fan-out` rows, and what the broker holds after:
queue lengths, messages carrying an ETA (none) and unacked deliveries.

The default is 100,000 rows and two batch sizes so that `make bench` stays within ~15 minutes on
a shared 2-core VM (1,000,000 rows and four sizes took 17 minutes there). How the rates grow
with the table is `--curve`: for each size, a fresh table of that many due rows, one bare UPDATE
and one sweep at the production batch size (workers/tasks.py EXPIRY_BATCH_SIZE), rows/s of each
(bench/README.md has the curve at 10k, 100k and 1M).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

NOW = datetime(2030, 1, 1, tzinfo=UTC)

_INSERT = """
INSERT INTO checkout_sessions (id, account_id, livemode, created_at, updated_at, payment_link_id, checkout_token,
    mode, status, line_items, currency, amount_subtotal_atom, amount_discount_atom, amount_total_atom,
    amount_due_today_atom, allow_cart_edit, success_url, expires_at)
SELECT 'cs_live_bench' || lpad(i::text, 12, '0'), 'acct_' || (i %% 1000), true, e - interval '24 hours',
       e - interval '24 hours', 'plink_' || (i %% 5000), md5(i::text) || md5((-i)::text), 'payment', 'open',
       jsonb_build_array(jsonb_build_object('price_id', 'price_' || (i %% 97), 'description', null, 'quantity', 2,
           'unit_amount_atom', 1999, 'currency', 'USD', 'type', 'one_time', 'interval', null,
           'interval_count', null, 'amount_atom', 3998)),
       'USD', 3998, 0, 3998, 3998, false, 'https://shop.example/thanks', e
  FROM generate_series(1, %(n)s) AS i,
       LATERAL (SELECT %(now)s::timestamptz - (i %% 86400) * interval '1 second') AS t(e)
"""
_RESET = "UPDATE checkout_sessions SET status = 'open', expired_at = NULL WHERE status = 'expired'"
_BARE = ("UPDATE checkout_sessions SET status = 'expired', expired_at = expires_at, updated_at = %(now)s "
         "WHERE status = 'open' AND expires_at <= %(now)s")


@contextmanager
def scratch_database():
    """A fresh database migrated with Alembic, dropped afterwards whatever happens."""
    import psycopg

    from paymentkit.cli import migrate
    from paymentkit.servers import with_database

    admin = os.environ["DATABASE_URL"]
    name = f"pk_bench_expiry_{secrets.token_hex(4)}"
    maintenance = with_database(admin, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin, name)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settle(raw) -> None:
    """Every measurement from the same state: all rows open, no dead tuples, fresh statistics."""
    raw.execute(_RESET)
    raw.execute("VACUUM (ANALYZE) checkout_sessions")
    raw.execute("CHECKPOINT")


def timed_bare(raw) -> tuple[int, float]:
    started = time.perf_counter()
    rows = raw.execute(_BARE, {"now": NOW}).rowcount
    return rows, time.perf_counter() - started


def timed_sweep(engine, batch_size: int) -> tuple[int, float, int]:
    from domain import expiry

    started = time.perf_counter()
    result = expiry.sweep(engine, NOW, batch_size)
    return result.expired, time.perf_counter() - started, result.batches


def measure_rounds(raw, engine, batch_sizes: list[int], rounds: int) -> dict[str, list[float]]:
    """`rounds` rounds of [the bare UPDATE, a sweep per batch size], the order rotating, each
    from the same state (settle). Each sweep's ratio is against the bare UPDATE of its own round:
    the same UPDATE measured twice a minute apart differed by up to 1.4x on this VM, so a ratio
    against one bare run before and one after leaned on the luckier of the two."""
    plan = ["bare"] + [f"sweep, batch {b:,}" for b in batch_sizes]
    ratios: dict[str, list[float]] = {name: [] for name in plan[1:]}
    print(f"\n{'round':<7}" + "".join(f"{name + ' rows/s':>26}" for name in plan) + "   ratios")
    for number in range(rounds):
        rates = {}
        for name in plan[number % len(plan):] + plan[:number % len(plan)]:
            settle(raw)
            if name == "bare":
                rows, seconds = timed_bare(raw)
            else:
                rows, seconds, _ = timed_sweep(engine, int(name.rsplit(" ", 1)[1].replace(",", "")))
            rates[name] = rows / seconds
        for name, values in ratios.items():
            values.append(rates[name] / rates["bare"])
        print(f"{number + 1:<7}" + "".join(f"{rates[name]:>26,.0f}" for name in plan) + "   " +
              ", ".join(f"{values[-1]:.2f}" for values in ratios.values()), flush=True)
    return ratios


def broker_holdings(redis_client, prefix: str) -> dict[str, int]:
    """What Redis holds for Celery under this run's prefix: messages per queue (every priority
    list), how many of them carry an ETA, and deliveries taken but not acked."""
    queued: dict[str, int] = {}
    with_eta = 0
    for key in redis_client.scan_iter(match=f"{prefix}*", count=1000):
        name = key.decode(errors="replace")[len(prefix):]
        if redis_client.type(key) != b"list" or name.startswith("_kombu"):
            continue
        queue = name.split("\x06\x16")[0]
        messages = redis_client.lrange(key, 0, -1)
        queued[queue] = queued.get(queue, 0) + len(messages)
        with_eta += sum(1 for m in messages if json.loads(m)["headers"].get("eta"))
    return {**{f"queue {q}": n for q, n in sorted(queued.items())}, "messages with an ETA": with_eta,
            "unacked (taken by workers)": redis_client.hlen(f"{prefix}unacked")}


def curve(raw, engine, sizes: list[int]) -> None:
    """rows/s of the bare UPDATE and of the sweep (production batch size) at each table size."""
    from workers.tasks import EXPIRY_BATCH_SIZE

    print(f"\ncurve (sweep batch {EXPIRY_BATCH_SIZE:,}):\n{'rows':>11}{'bare rows/s':>13}{'sweep rows/s':>14}{'ratio':>7}")
    for size in sizes:
        raw.execute("TRUNCATE checkout_sessions")
        raw.execute(_INSERT, {"n": size, "now": NOW})
        settle(raw)
        rows, seconds = timed_bare(raw)
        bare = rows / seconds
        settle(raw)
        rows, seconds, _ = timed_sweep(engine, EXPIRY_BATCH_SIZE)
        sweep = rows / seconds
        print(f"curve: {size:>11,}{bare:>13,.0f}{sweep:>14,.0f}{sweep / bare:>7.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-sizes", default="5000,10000")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of [bare, each sweep], ratios within a round, medians")
    parser.add_argument("--fan-out", type=int, default=5_000, help="rows swept with their follow-up jobs")
    parser.add_argument("--curve", default="", help="table sizes (comma-separated) to measure the growth at, "
                                                   "after the main measurement")
    args = parser.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    from paymentkit import servers

    os.environ.update(servers.ensure())
    prefix = f"pkbench_expiry_{secrets.token_hex(4)}:"
    os.environ["REDIS_KEY_PREFIX"] = prefix  # before celeryconfig is imported

    import psycopg
    import redis

    from domain.db import make_engine, session_factory

    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    with scratch_database() as url:
        engine = make_engine(url, 2)
        with psycopg.connect(url, autocommit=True) as raw:
            started = time.perf_counter()
            raw.execute(_INSERT, {"n": args.rows, "now": NOW})
            print(f"inserted {args.rows:,} due open sessions in {time.perf_counter() - started:.1f} s", flush=True)

            ratios = measure_rounds(raw, engine, batch_sizes, args.rounds)
            best_name, best_ratio = max(((name, statistics.median(r)) for name, r in ratios.items()),
                                        key=lambda item: item[1])
            verdict = "met" if best_ratio >= 0.7 else "NOT met"
            print(f"\nbest: {best_name} at {best_ratio:.2f}x the bare UPDATE (median of {args.rounds} rounds; "
                  f"target >= 0.70: {verdict})")
            if args.curve:
                curve(raw, engine, [int(n) for n in args.curve.split(",")])
                raw.execute("TRUNCATE checkout_sessions")
                raw.execute(_INSERT, {"n": args.rows, "now": NOW})

            # The whole path: the same sweep, with one follow-up job per expired session.
            raw.execute("UPDATE checkout_sessions SET status = 'open', expired_at = NULL "
                        "WHERE id IN (SELECT id FROM checkout_sessions ORDER BY id LIMIT %(n)s)", {"n": args.fan_out})
            raw.execute("VACUUM (ANALYZE) checkout_sessions")

        from workers import context, tasks

        context.use(session_factory(engine))
        try:
            started = time.perf_counter()
            result = tasks.sweep_and_follow_up(NOW + timedelta(seconds=1), budget_seconds=None)
            seconds = time.perf_counter() - started
            print(f"\nsweep + follow-up jobs: {result.expired:,} sessions in {seconds:.2f} s = "
                  f"{result.expired / seconds:,.0f} rows/s (publishing ~{result.expired * 2:,} messages: the job "
                  f"and its task-sent event)")
            print("broker after the sweep (no worker running):")
            for what, count in broker_holdings(redis_client, prefix).items():
                print(f"  {what:<32}{count:>8,}")
        finally:
            for key in redis_client.scan_iter(match=f"{prefix}*", count=1000):
                redis_client.delete(key)
        engine.dispose()


if __name__ == "__main__":
    main()
