"""How listing payment links scales: page 1 against a page ~90% deep, on 1,000,000 links.

    .venv/bin/python -m bench.list_links [--rows N] [--repeat R]

Makes a scratch database (migrated with Alembic), bulk-inserts the links of one account with
one SQL statement, then times `domain.listing.page` for the first page and for the page after
the link at ~90% depth of each filter's result (reached by `starting_after`, as a client would),
and EXPLAINs the deep page's query. The cursor is a keyset on (created_at, id), so the deep page
should cost about what the first does (target: deep/first < 2). The database is dropped at the end.
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from domain.db import make_engine
from domain.listing import page
from domain.queries import Owner, PageQuery
from domain.models import PaymentLink
from paymentkit.cli import migrate
from paymentkit.servers import with_database
from runtime.settings import Settings

ACCOUNT = "acct_bench0000000000000000"
START = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOMERS = 5

# One row per n in 1..rows: one second apart; 90% active; 70% payment, 20% subscription,
# 10% setup; each link has one of CUSTOMERS customers; ids and tokens unique, random-looking.
INSERT = """
INSERT INTO payment_links (id, account_id, livemode, created_at, updated_at, secure_token, name, mode,
    is_active, line_items, package_ids, customer_id, coupon_id, free_trial_days, success_url, return_url,
    expires_in_hours, allow_cart_edit, accepted_payment_methods, metadata, currency, total_amount_atom)
SELECT 'pl_live_' || substr(md5(n::text), 1, 20), :account, true,
       :start + n * interval '1 second', :start + n * interval '1 second',
       md5(n::text || 'token'), 'Link ' || n,
       CASE WHEN n % 10 < 7 THEN 'payment' WHEN n % 10 < 9 THEN 'subscription' ELSE 'setup' END,
       n % 10 <> 3,
       CASE WHEN n % 10 = 9 THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object(
           'price_id', 'price_live_bench', 'quantity', 1, 'description', null, 'unit_amount_atom', 1000,
           'currency', 'USD', 'type', 'one_time', 'amount_atom', 1000)) END,
       '{}', 'cus_live_bench' || (n % :customers), null, null, 'https://example.com/thanks', null,
       24, false, null, '{}'::jsonb,
       CASE WHEN n % 10 = 9 THEN null ELSE 'USD' END, CASE WHEN n % 10 = 9 THEN 0 ELSE 1000 END
FROM generate_series(1, :rows) AS n
"""


@dataclass
class Case:
    name: str
    filters: dict[str, Any] = field(default_factory=dict)
    created_gte: datetime | None = None


@dataclass
class Result:
    case: Case
    matching: int
    depth: int
    first_ms: float
    second_ms: float
    deep_ms: float
    plan: str


def cases(rows: int) -> list[Case]:
    return [
        Case("(none)"),
        Case("is_active=true", {"is_active": True}),
        Case("mode=payment", {"mode": "payment"}),
        Case("customer_id", {"customer_id": "cus_live_bench1"}),
        Case("created[gte]", created_gte=START + timedelta(seconds=rows // 20)),
    ]


def query_for(case: Case, starting_after: str | None = None) -> PageQuery:
    return PageQuery(limit=10, starting_after=starting_after, created_gte=case.created_gte, filters=case.filters)


def matching_rows(session: Session, case: Case) -> Any:
    stmt = select(PaymentLink.id).where(PaymentLink.account_id == ACCOUNT, PaymentLink.livemode.is_(True))
    for column, value in case.filters.items():
        stmt = stmt.where(getattr(PaymentLink, column) == value)
    if case.created_gte is not None:
        stmt = stmt.where(PaymentLink.created_at >= case.created_gte)
    return stmt


def median_ms(calls: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Each call's median time; the calls take turns, so a busy moment of the machine hits all alike."""
    for call in calls:
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, spent in zip(calls, times):
            started = time.perf_counter()
            call()
            spent.append((time.perf_counter() - started) * 1000)
    return [statistics.median(spent) for spent in times]


def run_case(engine, owner: Owner, case: Case, repeat: int) -> Result:
    with Session(engine) as session:
        stmt = matching_rows(session, case)
        matching = session.scalar(select(text("count(*)")).select_from(stmt.subquery()))
        depth = int(matching * 0.9)
        ordered = stmt.order_by(PaymentLink.created_at.desc(), PaymentLink.id.desc())
        deep_cursor = session.scalar(ordered.offset(depth - 1).limit(1))
        second_cursor = session.scalar(ordered.offset(9).limit(1))

    def list_page(cursor: str | None) -> Callable[[], Any]:
        def call() -> Any:
            with Session(engine) as session:
                found = page(session, PaymentLink, owner, query_for(case, cursor))
                assert len(found.data) == 10 and found.has_more
                return found
        return call

    first, second, deep = median_ms([list_page(None), list_page(second_cursor), list_page(deep_cursor)], repeat)
    return Result(case, matching, depth, first, second, deep, explain_deep_page(engine, owner, case, deep_cursor))


def explain_deep_page(engine, owner: Owner, case: Case, cursor: str) -> str:
    """The plan of the page query itself (the last statement `page` sends), scan node first."""
    sent: list[tuple[str, Any]] = []

    def record(conn, cursor_, statement, parameters, context, executemany) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            page(session, PaymentLink, owner, query_for(case, cursor))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, parameters = sent[-1]
    with engine.connect() as conn:
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
    scan = next((line.strip().removeprefix("->").strip() for line in plan if "Scan" in line), plan[0])
    buffers = next((line.strip() for line in plan[1:] if line.strip().startswith("Buffers")), "")
    return f"{scan.split('  (')[0]}; {buffers}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()

    admin_url = Settings.from_env().database_url
    name = f"pk_bench_{secrets.token_hex(4)}"
    maintenance = with_database(admin_url, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    engine = None
    try:
        migrate(url)
        engine = make_engine(url, 2)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts (id, name, created_at) VALUES (:a, 'bench', now())"),
                         {"a": ACCOUNT})
            conn.execute(text(INSERT), {"account": ACCOUNT, "start": START, "rows": args.rows,
                                        "customers": CUSTOMERS})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE payment_links")
        print(f"inserted {args.rows:,} payment links in {time.perf_counter() - started:.1f} s "
              f"(database {name}); median of {args.repeat} runs each, through domain.listing.page\n")
        owner = Owner(ACCOUNT, True)
        results = [run_case(engine, owner, case, args.repeat) for case in cases(args.rows)]
        print_table(results)
    finally:
        if engine is not None:
            engine.dispose()
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(results: list[Result]) -> None:
    header = (f"| {'filter':<15} | {'matching':>9} | {'depth':>7} | {'page 1 ms':>9} | {'page 2 ms':>9} "
              f"| {'deep ms':>7} | {'deep/first':>10} | {'deep/page 2':>11} |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for r in results:
        print(f"| {r.case.name:<15} | {r.matching:>9,} | {r.depth:>7,} | {r.first_ms:>9.2f} | {r.second_ms:>9.2f} "
              f"| {r.deep_ms:>7.2f} | {r.deep_ms / r.first_ms:>10.2f} | {r.deep_ms / r.second_ms:>11.2f} |")
    print("\nplan of each deep page (EXPLAIN ANALYZE, scan node):")
    for r in results:
        print(f"  {r.case.name:<15} {r.plan}")
    worst = max(r.deep_ms / r.first_ms for r in results)
    print(f"\nworst deep/first ratio: {worst:.2f} (target < 2)")


if __name__ == "__main__":
    main()
