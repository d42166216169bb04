"""What tasks share within one worker process: the engine (made lazily, after fork)."""
from __future__ import annotations

import functools

from domain.db import UnitOfWork, make_engine, session_factory
from paymentkit.settings import Settings


@functools.cache
def _session_factory():
    settings = Settings.from_env()
    return session_factory(make_engine(settings.database_url, settings.db_pool_size))


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(_session_factory())
