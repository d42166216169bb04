"""`paymentkit billing stats|due|run`: what billing has to do, and doing it now by hand.

    paymentkit billing stats            JSON: renewals_due, charges_due, charges_in_flight,
                                        open_invoices, past_due, oldest_overdue_seconds
    paymentkit billing due [--limit N]  JSON lines: the next renewals and charges, soonest first
    paymentkit billing run [IN_ID ...]  charge these invoices now, in this process; without ids,
                                        the beat's sweep now (invoices made, due ones charged here)
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def _stats(args: argparse.Namespace) -> int:
    from domain import billing_stats
    from domain.db import utcnow
    from workers.context import unit_of_work

    with unit_of_work() as uow:
        print(json.dumps(asdict(billing_stats.stats(uow, utcnow()))))
    return 0


def _due(args: argparse.Namespace) -> int:
    from domain import billing_stats
    from domain.db import utcnow
    from workers.context import unit_of_work

    with unit_of_work() as uow:
        for row in billing_stats.due(uow, utcnow(), args.limit):
            print(json.dumps({**asdict(row), "due_at": row.due_at.isoformat()}))
    return 0


def _run(args: argparse.Namespace) -> int:
    """Charge now in this process, as the `billing.charge` job would: the given invoices (their
    current attempt; one whose charge is under way is left to the reconcile job), or every one the
    sweep finds due (period ends become invoices first)."""
    from domain import billing
    from domain.db import utcnow
    from domain.models import Invoice
    from workers.context import processors, unit_of_work

    todo: list[tuple[str, int]] = []
    if args.invoice_ids:
        with unit_of_work() as uow:
            for invoice_id in args.invoice_ids:
                invoice = uow.session.get(Invoice, invoice_id)
                if invoice is None:
                    print(json.dumps({"invoice_id": invoice_id, "status": None, "error": "no such invoice"}))
                else:
                    todo.append((invoice.id, invoice.attempt_count))
    else:
        now = utcnow()
        while True:
            with unit_of_work() as uow:
                made = billing.make_due_invoices(uow, now, lease=billing.HANDOUT_LEASE)
                todo += [(invoice_id, 0) for invoice_id in made]
                uow.commit()
            if len(made) < billing.BATCH_SIZE:
                break
        with unit_of_work() as uow:
            claimed = billing.claim_due_invoices(uow, now, limit=100_000)
            uow.commit()
        todo += [item for item in claimed if item not in todo]
    for invoice_id, attempt in todo:
        status = billing.charge(unit_of_work, invoice_id, attempt, processors().for_processor, utcnow)
        print(json.dumps({"invoice_id": invoice_id, "attempt": attempt, "status": status}))
    return 0


def add_parser(sub) -> None:
    billing = sub.add_parser("billing", help="subscription renewals, charges and retries").add_subparsers(
        dest="action", required=True)
    billing.add_parser("stats", help="billing work due now, in flight, past due").set_defaults(func=_stats)
    due = billing.add_parser("due", help="the next renewals and charges, soonest first")
    due.add_argument("--limit", type=int, default=20)
    due.set_defaults(func=_due)
    run = billing.add_parser("run", help="charge these invoices now (or run the sweep now)")
    run.add_argument("invoice_ids", nargs="*")
    run.set_defaults(func=_run)
