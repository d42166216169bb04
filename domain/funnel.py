"""A payment link's funnel, per UTC day: opens of its share URL (accepted share requests), sessions
stored, completed, expired, conversion and money paid. Read from PostgreSQL only.

Opens are counted in Redis on the share path (runtime/link_opens.py) and copied into
`link_daily_opens` by the rollup job (`store_opens`); everything else is grouped from
checkout_sessions and payments by day.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Date, cast, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.db import UnitOfWork
from domain.expiry import status_condition
from domain.models import CheckoutSession, LinkDailyOpens, Payment
from domain.payments.states import PaymentStatus
from domain.queries import Owner

DAYS = 30


# ---- the rollup -------------------------------------------------------------------------------

def stored_opens(uow: UnitOfWork, day: date) -> dict[str, int]:
    """What PostgreSQL holds for a day, every link (the floor the Redis counters are raised to)."""
    rows = uow.session.execute(select(LinkDailyOpens.payment_link_id, LinkDailyOpens.opens)
                               .where(LinkDailyOpens.day == day))
    return {link_id: int(opens) for link_id, opens in rows}


def store_opens(uow: UnitOfWork, day: date, counts: dict[str, int], now: datetime) -> int:
    """Set each link's opens of `day` to the counter's value; never lower (a counter read from a
    Redis that lost data must not erase what is stored). Running it twice changes nothing."""
    if not counts:
        return 0
    stmt = insert(LinkDailyOpens).values([
        {"payment_link_id": link_id, "day": day, "opens": opens, "updated_at": now} for link_id, opens in counts.items()])
    stmt = stmt.on_conflict_do_update(
        index_elements=["payment_link_id", "day"],
        set_={"opens": func.greatest(LinkDailyOpens.opens, stmt.excluded.opens), "updated_at": stmt.excluded.updated_at},
        where=LinkDailyOpens.opens < stmt.excluded.opens)
    uow.session.execute(stmt)
    return len(counts)


# ---- the funnel -------------------------------------------------------------------------------

@dataclass
class Day:
    day: date
    opens: int = 0
    sessions: int = 0
    completed: int = 0
    expired: int = 0
    paid: dict[str, int] = field(default_factory=dict)  # currency -> atoms of succeeded payments


@dataclass
class Funnel:
    days: list[Day]  # oldest first, every day of the window (zeros included)

    def total(self, name: str) -> int:
        return sum(getattr(d, name) for d in self.days)

    @property
    def paid(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for d in self.days:
            for currency, atoms in d.paid.items():
                totals[currency] += atoms
        return dict(sorted(totals.items()))

    @property
    def peak(self) -> int:
        return max([max(d.opens, d.sessions) for d in self.days] + [0])


def conversion(completed: int, opens: int) -> str:
    """Completed sessions per open, in percent with one decimal ("—" before the first open)."""
    if not opens:
        return "—"
    tenths = (completed * 1000 + opens // 2) // opens
    return f"{tenths // 10}.{tenths % 10}%"


def _utc_day(column):
    return cast(func.timezone("UTC", column), Date)


def daily(uow: UnitOfWork, owner: Owner, link_id: str, now: datetime, days: int = DAYS) -> Funnel:
    """The last `days` UTC days up to and including today's, for a link of this owner."""
    first = now.date() - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    by_day = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(days)}
    cs = CheckoutSession
    mine = (cs.account_id == owner.account_id, cs.livemode == owner.livemode, cs.payment_link_id == link_id)

    def grouped(column, *conditions):
        day = _utc_day(column)
        return uow.session.execute(select(day, func.count()).where(*mine, column >= start, *conditions).group_by(day))

    for day, n in grouped(cs.created_at):
        by_day[day].sessions = n
    for day, n in grouped(cs.completed_at, cs.status == "complete"):
        by_day[day].completed = n
    for day, n in grouped(func.coalesce(cs.expired_at, cs.expires_at), status_condition("expired", now)):
        if day in by_day:  # an expiry is never in the future, but a clock may be
            by_day[day].expired = n
    paid_day = _utc_day(Payment.created_at)
    for day, currency, atoms in uow.session.execute(
            select(paid_day, Payment.currency, func.sum(Payment.amount_atom)).join(cs, cs.id == Payment.checkout_session_id)
            .where(*mine, Payment.account_id == owner.account_id, Payment.livemode == owner.livemode,
                   Payment.status == PaymentStatus.SUCCEEDED.value, Payment.created_at >= start)
            .group_by(paid_day, Payment.currency)):
        by_day[day].paid[currency] = int(atoms)
    for day, opens in uow.session.execute(select(LinkDailyOpens.day, LinkDailyOpens.opens).where(
            LinkDailyOpens.payment_link_id == link_id, LinkDailyOpens.day >= first)):
        if day in by_day:
            by_day[day].opens = int(opens)
    return Funnel([by_day[d] for d in sorted(by_day)])
