"""Engine and unit of work: the one transaction boundary of every use case."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker


def sqlalchemy_url(database_url: str) -> str:
    """`postgresql://...` -> `postgresql+psycopg://...` (psycopg 3)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix):]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def make_engine(database_url: str, pool_size: int = 4) -> Engine:
    """One engine per process, made after fork; the pool is sized to the process's threads."""
    return create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        pool_pre_ping=True,
        # Errors never repeat a statement's parameters: they are checkout and share tokens, and
        # errors get logged (the API's last resort, Celery's retry lines).
        hide_parameters=True,
        # Every timestamp comes back in UTC, whatever the server's own time zone.
        connect_args={"connect_timeout": 3, "options": "-c TimeZone=UTC"},
    )


def utcnow() -> datetime:
    """The clock of the domain (freezegun moves it in tests)."""
    return datetime.now(UTC)


class UnitOfWork:
    """A session whose work is committed explicitly; anything else rolls back.

    Callbacks registered with `after_commit` run only once the commit has succeeded, so a
    worker never looks for a row that is not there yet.
    """

    def __init__(self, session_factory: sessionmaker[Session]):
        self._session_factory = session_factory
        self._session: Session | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self._after_commit = []
        if self._session is not None:
            self._session.rollback()

    def close(self) -> None:
        self._after_commit = []
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, *exc_info) -> None:
        self.rollback()
        self.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)
