"""Test clocks (SPEC 8, test mode only): a merchant's own "now" for the customers created on it,
so months of billing run in seconds.

Billing asks `now_for` once per piece of work: "what time is it for this customer" is the clock's
`frozen_time` for a customer on a clock, and the real time for everyone else. An advance moves
`frozen_time` and leaves the clock `advancing`; the `test_clocks.advance` job then runs every
piece of billing that falls due up to the new time, in order, through the same functions as the
beat's jobs (domain/billing.py), and sets it `ready`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domain import listing
from domain.db import UnitOfWork, locked, utcnow
from domain.errors import Conflict, invalid
from domain.ids import new_id, random_base62
from domain.listing import get_owned
from domain.models import TestClock
from domain.queries import Owner, Page, PageQuery
from domain.rules import require_text

READY, ADVANCING = "ready", "advancing"


def now_for(uow: UnitOfWork, test_clock_id: str | None, real_now: datetime) -> datetime:
    """The time it is for a customer (or subscription, or invoice) on `test_clock_id`: the clock's
    frozen time, else `real_now`."""
    if test_clock_id is None:
        return real_now
    frozen = uow.session.scalar(select(TestClock.frozen_time).where(TestClock.id == test_clock_id))
    return frozen if frozen is not None else real_now


@dataclass
class NewTestClock:
    frozen_time: datetime
    name: str | None = None


def _require_test_mode(owner: Owner) -> None:
    if owner.livemode:
        raise invalid(None, "Test clocks exist in test mode only: use your test API key.", "livemode_mismatch")


def _require_aware(value: datetime, param: str) -> datetime:
    if value.tzinfo is None:
        raise invalid(param, f"{param} must be an RFC 3339 timestamp with a time zone")
    return value


def create(uow: UnitOfWork, owner: Owner, cmd: NewTestClock) -> TestClock:
    _require_test_mode(owner)
    require_text(cmd.name, "name", required=False)
    now = utcnow()
    clock = TestClock(id=new_id("clock", owner.livemode), account_id=owner.account_id, livemode=owner.livemode,
                      created_at=now, updated_at=now, name=cmd.name,
                      frozen_time=_require_aware(cmd.frozen_time, "frozen_time"), status=READY)
    uow.session.add(clock)
    uow.session.flush()
    return clock


def get(uow: UnitOfWork, owner: Owner, clock_id: str, *, param: str | None = None) -> TestClock:
    return get_owned(uow.session, TestClock, owner, clock_id, param=param)


def page(uow: UnitOfWork, owner: Owner, query: PageQuery) -> Page:
    return listing.page(uow.session, TestClock, owner, query)


def advance(uow: UnitOfWork, owner: Owner, clock_id: str, frozen_time: datetime) -> TestClock:
    """Move the clock to `frozen_time` (later than its time now); the advance job runs what falls
    due on it, and the clock reads `advancing` until that job is done."""
    _require_test_mode(owner)
    clock = get_owned(uow.session, TestClock, owner, clock_id, lock=True)
    _require_aware(frozen_time, "frozen_time")
    if clock.status == ADVANCING:
        raise Conflict("This test clock is still advancing: wait until it is ready.", code="test_clock_advancing")
    if frozen_time <= clock.frozen_time:
        raise invalid("frozen_time", "frozen_time must be later than the clock's time now")
    clock.frozen_time = frozen_time
    clock.status = ADVANCING
    clock.updated_at = utcnow()
    uow.session.flush()
    uow.send_after_commit("test_clocks.advance", [clock.id], task_id=f"{clock.id}.advance.{random_base62(8)}")
    return clock


def finish(uow: UnitOfWork, clock_id: str) -> None:
    """Nothing more is due on the clock: it is ready."""
    clock = locked(uow, TestClock, clock_id)
    if clock is not None and clock.status == ADVANCING:
        clock.status = READY
        clock.updated_at = utcnow()


def frozen_time(uow: UnitOfWork, clock_id: str) -> datetime | None:
    return uow.session.scalar(select(TestClock.frozen_time).where(TestClock.id == clock_id))
