"""What tasks share within one worker process: the engine (made lazily, after fork)."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from domain.db import UnitOfWork, make_engine, session_factory
from runtime.settings import Settings

_factory: sessionmaker[Session] | None = None


def use(factory: sessionmaker[Session]) -> None:
    """Point the tasks of this process at a given database (tests use their own)."""
    global _factory
    _factory = factory


def unit_of_work() -> UnitOfWork:
    global _factory
    if _factory is None:
        settings = Settings.from_env()
        _factory = session_factory(make_engine(settings.database_url, settings.db_pool_size))
    return UnitOfWork(_factory)
