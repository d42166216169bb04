"""Renewals: the billing sweep against a bare UPDATE, and renewals charged per second through the
test processor against a no-op drain of as many messages by the same workers.

    python -m bench.billing [--due 1000] [--sweep-only]

In a scratch database: one subscription paid at checkout through the real pay flow (its card saved
at the built-in test processor), copied to `--due` subscriptions whose period ended a minute ago.

1. sweep vs bare UPDATE: the same due rows, reset between the two. The bare UPDATE is one
   statement (`UPDATE subscriptions SET next_billing_at = NULL WHERE next_billing_at <= now`);
   the sweep is `domain.billing.make_due_invoices` in batches of 500 as the beat runs it: each
   subscription locked (SKIP LOCKED), its invoice made (the unique key), its `billing.charge` job
   sent after commit. The invoices the bare run does not make are deleted before the sweep.
2. charges vs no-op: the sweep's `billing.charge` jobs wait on the `billing` queue; the Procfile's
   worker starts and the clock runs from the first message taken until every invoice is paid.
   The baseline is as many `bench.noop` messages on the same queue, drained by the same worker.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (api_poster, child, children_of, delete_redis_keys, mib, peak_rss_kib, prepare_environment,
                          scratch_database, shop, wait_until)
from bench.sessions import worker_command

QUEUE = "billing"


def seed(settings, due: int) -> str:
    """One paid subscription, copied to `due` subscriptions due a minute ago; the first one's id."""
    from dataclasses import replace

    from sqlalchemy import text

    from domain import checkout_payments, checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import UnitOfWork, session_factory, utcnow
    from domain.ids import new_id
    from domain.link_reader import LinkReader

    with shop(settings, "Bench tea club") as (deps, client, made):
        ok = api_poster(client, made.account_id, made.test_api_key)

        price = ok("/prices", {"product_id": ok("/products", {"name": "Tea club"})["id"], "unit_amount_atom": 900,
                               "currency": "EUR", "type": "recurring", "interval": "month"})
        link = ok("/payment-links", {"mode": "subscription", "line_items": [{"price_id": price["id"]}]})
        reader = LinkReader(deps.engine)
        found = reader.find(link["secure_token"])
        reader.close()
        now = utcnow()
        token = new_checkout_token(settings.secret_key, now)
        with UnitOfWork(session_factory(deps.engine)) as uow:
            checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                       checkout_token=token, now=now))
            uow.commit()
        processor = deps.processors.test_processor()
        form = checkout_payments.PayForm(email="bench@example.com",
                                         card=processor.read_card("4242424242424242", "12/34", "123"))
        units = replace(deps, sender=_NoJobs()).units  # the checkout's own follow-ups are not benched
        attempt = checkout_payments.pay(units, token, form, processor, return_url="https://x.example/r", now=utcnow)
        if not attempt.completed:
            raise RuntimeError(f"the seed checkout did not complete: {attempt}")
        with deps.engine.begin() as conn:
            sub_id = conn.execute(text("SELECT subscription_id FROM checkout_sessions WHERE checkout_token = :t"),
                                  {"t": token}).scalar_one()
            conn.execute(text(
                "INSERT INTO subscriptions SELECT (s).* FROM (SELECT jsonb_populate_record(NULL::subscriptions, "
                "to_jsonb(t) || jsonb_build_object('id', t.id || '_' || n, 'checkout_session_id', NULL)) AS s "
                "FROM subscriptions t, generate_series(1, :more) n WHERE t.id = :id) copies"),
                {"id": sub_id, "more": due - 1})
        return sub_id


class _NoJobs:
    def send(self, name, args, *, task_id) -> None:
        pass


def reset(engine, due_at: datetime) -> None:
    """Every subscription due at `due_at` again, no renewal invoice made, a fresh table."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM invoices WHERE period_start = :due"), {"due": due_at})
        conn.execute(text("UPDATE subscriptions SET current_period_end = :due, next_billing_at = :due, "
                          "latest_invoice_id = NULL"), {"due": due_at})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE subscriptions"))
        conn.execute(text("VACUUM ANALYZE invoices"))


def timed_bare(engine) -> tuple[int, float]:
    from sqlalchemy import text

    started = time.perf_counter()
    with engine.begin() as conn:
        rows = conn.execute(text("UPDATE subscriptions SET next_billing_at = NULL WHERE next_billing_at <= now() "
                                 "AND test_clock_id IS NULL")).rowcount
    return rows, time.perf_counter() - started


def timed_sweep(settings, engine) -> tuple[int, float]:
    """The beat's sweep (workers/billing.py's loop), its charge jobs sent to the broker after each commit."""
    from api.enqueue import CelerySender
    from domain import billing
    from domain.db import UnitOfWork, session_factory, utcnow

    factory, sender, outbox = session_factory(engine), CelerySender(), settings.outbox()
    made, now = 0, utcnow()
    started = time.perf_counter()
    while True:
        with UnitOfWork(factory, sender, outbox=outbox) as uow:
            ids = billing.make_due_invoices(uow, now)
            for invoice_id in ids:
                uow.send_after_commit("billing.charge", [invoice_id, 0], task_id=f"{invoice_id}.0")
            uow.commit()
        made += len(ids)
        if len(ids) < billing.BATCH_SIZE:
            return made, time.perf_counter() - started


def paid(engine, due_at: datetime) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM invoices WHERE period_start = :due AND status = 'paid'"),
                            {"due": due_at}).scalar_one()


def drain(env, workdir: Path, redis_client, prefix: str, count: int, done, what: str) -> tuple[float, int]:
    queue_key = prefix + QUEUE
    with child(worker_command(), env, workdir / f"worker-{what}.log") as worker:
        wait_until(lambda: redis_client.llen(queue_key) < count or not worker.alive(), 120, "worker start", 0.002)
        if not worker.alive():
            raise RuntimeError(f"the worker did not start:\n{worker.tail()}")
        started = time.perf_counter()

        def finished() -> bool:
            if not worker.alive():
                raise RuntimeError(f"the worker died:\n{worker.tail()}")
            return done()

        wait_until(finished, 7200, f"draining {count} {what}", 0.02)
        seconds = time.perf_counter() - started
        rss = max([peak_rss_kib(worker.pid)] + [peak_rss_kib(pid) for pid in children_of(worker.pid)])
    return seconds, rss


def run(due: int, sweep_only: bool = False) -> str:
    import redis

    from api.enqueue import CelerySender
    from domain.db import make_engine
    from runtime.jobs import JOBS, Job
    from runtime.settings import Settings

    env = prepare_environment()
    redis_client = redis.Redis.from_url(env["REDIS_URL"])
    prefix = env["REDIS_KEY_PREFIX"]
    lines = []
    with ExitStack() as stack:
        stack.callback(delete_redis_keys, redis_client, prefix)
        url = stack.enter_context(scratch_database("billing"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pk-bench-billing-")))
        env = dict(env, DATABASE_URL=url)
        settings = Settings.from_env(env)
        seeded_at = time.perf_counter()
        seed(settings, due)
        engine = make_engine(url, 2)
        stack.callback(engine.dispose)
        due_at = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
        lines.append(f"billing: {due:,} due subscriptions (seeded in {time.perf_counter() - seeded_at:.1f} s)")

        reset(engine, due_at)
        bare_rows, bare_seconds = timed_bare(engine)
        reset(engine, due_at)
        sweep_rows, sweep_seconds = timed_sweep(settings, engine)
        if (bare_rows, sweep_rows) != (due, due):
            raise RuntimeError(f"bare UPDATE took {bare_rows} rows, the sweep {sweep_rows}: {due} expected")
        bare_rate, sweep_rate = bare_rows / bare_seconds, sweep_rows / sweep_seconds
        lines += ["| what                          |    rows |  seconds |     rows/s |",
                  "|-------------------------------|---------|----------|------------|",
                  f"| bare UPDATE                   | {bare_rows:>7,} | {bare_seconds:>8.2f} | {bare_rate:>10,.0f} |",
                  f"| sweep (batches of 500 + jobs) | {sweep_rows:>7,} | {sweep_seconds:>8.2f} | {sweep_rate:>10,.0f} |",
                  f"sweep/bare {sweep_rate / bare_rate:.3f}"]
        if sweep_only:
            return "\n".join(lines)

        charges_seconds, charges_rss = drain(env, workdir, redis_client, prefix, due,
                                             lambda: paid(engine, due_at) == due, "charges")
        sender = CelerySender(jobs={**JOBS, "bench.noop_charge": Job(QUEUE)})
        for n in range(due):  # a message of the charge job's size
            sender.send("bench.noop_charge", [f"in_test_{n:020d}", 0], task_id=f"noop.{n}")
        queue_key, unacked_key = prefix + QUEUE, prefix + "unacked"
        noop_seconds, noop_rss = drain(
            env, workdir, redis_client, prefix, due,
            lambda: redis_client.llen(queue_key) == 0 and redis_client.hlen(unacked_key) == 0, "no-ops")
        charge_rate, noop_rate = due / charges_seconds, due / noop_seconds
        command = " ".join(worker_command()[1:])
        lines += [f"drained by `{command}`",
                  "| task              |  seconds | per second | worker RSS |",
                  "|-------------------|----------|------------|------------|",
                  f"| billing.charge    | {charges_seconds:>8.1f} | {charge_rate:>10,.0f} | {mib(charges_rss):>10} |",
                  f"| bench.noop_charge | {noop_seconds:>8.1f} | {noop_rate:>10,.0f} | {mib(noop_rss):>10} |",
                  f"charged/no-op {charge_rate / noop_rate:.3f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.billing", description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=1_000, help="due subscriptions (100,000 takes about an hour "
                                                               "of charging here: see bench/README.md)")
    parser.add_argument("--sweep-only", action="store_true", help="the sweep and the bare UPDATE, no charging")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(run(args.due, args.sweep_only))
    print(f"(billing bench: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
