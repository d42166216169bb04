"""Engine and unit of work: the one transaction boundary of every use case."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from domain.events import Outbox
    from domain.link_changes import LinkCache

log = logging.getLogger("paymentkit.domain")


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


class JobSender(Protocol):
    """Hands a job, by name, to the workers (the web's `CelerySender`, the workers' Celery app)."""

    def send(self, name: str, args: list[Any], *, task_id: str) -> None: ...


class UnitOfWork:
    """A session whose work is committed explicitly; anything else rolls back.

    Jobs named with `send_after_commit` (and callbacks registered with `after_commit`) go out
    only once the commit has succeeded, so a worker never looks for a row that is not there yet
    and nothing is announced for a change that rolled back.

    With a `link_cache`, the share cache's entries of every account whose links, prices,
    products, packages or coupons this unit of work changed are forgotten right after the
    commit, before any other callback (domain/link_changes.py).
    """

    def __init__(self, session_factory: sessionmaker[Session], jobs: JobSender | None = None, *,
                 outbox: Outbox | None = None, link_cache: LinkCache | None = None):
        self._session_factory = session_factory
        self._jobs = jobs
        self._outbox = outbox
        self._link_cache = link_cache
        self._session: Session | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        if self._session is None:
            from domain.link_changes import track

            self._session = self._session_factory()
            track(self._session)
        return self._session

    @property
    def outbox(self) -> Outbox:
        """How this process writes events (domain/events.py): given by whoever made the unit of work."""
        if self._outbox is None:
            raise RuntimeError("this unit of work has no outbox to write events to")
        return self._outbox

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def send_after_commit(self, name: str, args: list[Any], *, task_id: str) -> None:
        """Send the job `name` once this unit of work has committed. The change is kept if the
        broker then refuses the job: that is logged (and the job's own sweep, where it has one,
        finds the work again)."""
        if self._jobs is None:
            raise RuntimeError(f"this unit of work has no job sender for {name!r}")
        jobs = self._jobs

        def send() -> None:
            try:
                jobs.send(name, args, task_id=task_id)
            except Exception as failure:  # committed already: only the job is late
                log.warning("could not send job %s %s after commit: %s", name, task_id, type(failure).__name__)

        self._after_commit.append(send)

    def commit(self) -> None:
        changed: set[str] = set()
        if self._session is not None:
            self._session.commit()
            changed = self._session.info.get("link_changes") or set()
            self._session.info["link_changes"] = set()
        if changed and self._link_cache is not None:
            self._link_cache.forget(changed)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self._after_commit = []
        if self._session is not None:
            self._session.rollback()
            self._session.info["link_changes"] = set()

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


def locked(uow: UnitOfWork, model: Any, object_id: str) -> Any | None:
    """The row `object_id` of `model`, locked FOR UPDATE and read fresh (even if this unit of work
    loaded it before); None when there is none."""
    return uow.session.scalars(select(model).where(model.id == object_id).with_for_update()
                               .execution_options(populate_existing=True)).first()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)
