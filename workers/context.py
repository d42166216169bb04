"""What tasks share within one worker process: the engine (made lazily, after fork)."""
from __future__ import annotations

from typing import Any

import redis

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.db import UnitOfWork, make_engine, session_factory
from domain.processors import Processors, SecretBox
from runtime import logs
from runtime.link_opens import OpenReader
from runtime.settings import Settings

_factory: sessionmaker[Session] | None = None


def use(factory: sessionmaker[Session]) -> None:
    """Point the tasks of this process at a given database (tests use their own)."""
    global _factory
    _factory = factory


class CelerySender:
    """Jobs sent from a worker: Celery's own `send_task`, routed by celeryconfig (runtime/jobs.py),
    carrying the request id of the job that sends them."""

    def send(self, name: str, args: list[Any], *, task_id: str) -> None:
        from workers import app

        app.send_task(name, args=args, task_id=task_id, headers={"request_id": logs.request_id.get() or ""},
                      argsrepr=f"[{task_id}]", kwargsrepr="{}")


_sender = CelerySender()
_processors: Processors | None = None
_settings: Settings | None = None


def settings() -> Settings:
    """This process's settings, read once."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def use_settings(given: Settings) -> None:
    """Point the tasks of this process at given settings (tests use their own)."""
    global _settings, _opens_reader, _link_cache
    _settings = given
    _opens_reader = None
    _link_cache = None


def _outbox():
    return settings().outbox()


_link_cache = None


def _links():
    """The share cache's invalidation (a worker's commit may change a coupon's redemptions)."""
    global _link_cache
    if _link_cache is None:
        from runtime.share_cache import link_cache

        _link_cache = link_cache(settings())
    return _link_cache


def _session_factory() -> sessionmaker[Session]:
    global _factory
    if _factory is None:
        settings = Settings.from_env()
        _factory = session_factory(make_engine(settings.database_url, settings.db_pool_size))
    return _factory


def unit_of_work() -> UnitOfWork:
    return UnitOfWork(_session_factory(), _sender, outbox=_outbox(), link_cache=_links())


def engine() -> Engine:
    """The engine the tasks' units of work use, for a task whose transaction is one Core statement."""
    return _session_factory().kw["bind"]


_opens_reader: OpenReader | None = None


def opens_reader() -> OpenReader:
    """The share-URL open counters (on the rate limiter's Redis, under this process's key prefix)."""
    global _opens_reader
    if _opens_reader is None:
        config = settings()
        _opens_reader = OpenReader(redis.Redis.from_url(config.rate_limit_redis_url, socket_connect_timeout=2,
                                                        socket_timeout=5), config.redis_key_prefix)
    return _opens_reader


def processors() -> Processors:
    """The connectors of this process (made lazily, on the tasks' engine)."""
    global _processors
    if _processors is None:
        settings = Settings.from_env()
        with unit_of_work() as uow:
            engine = uow.session.get_bind()
        _processors = Processors(engine, SecretBox(settings.encryption_key), settings.checkout_base_url,
                                 stripe_api_base=settings.stripe_api_base, stripe_js_url=settings.stripe_js_url)
    return _processors


def use_processors(made: Processors) -> None:
    """Point the tasks of this process at given connectors (tests hand in theirs)."""
    global _processors
    _processors = made
