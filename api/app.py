"""The app factory: `create_app(settings)` wires the resources to their dependencies."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import falcon
import redis
from sqlalchemy import Engine

from api import checkout, dashboard, errors
from api.enqueue import CelerySender, TaskSender
from api.middleware import AccessLog, Authenticate, Idempotency, RequestId, SecurityHeaders, UnitOfWorkMiddleware
from api.openapi import OpenApiResource
from api.ratelimit import share_rate_limiter
from api.resources import (account, api_keys, catalog, checkout_sessions, docs, events, health, payment_links, payments,
                           processor_webhooks, share, subscriptions, test_clocks, webhook_endpoints)
from api.routing import Router
from domain.db import UnitOfWork, make_engine, session_factory
from domain.events import Outbox
from domain.link_changes import LinkCache
from domain.link_reader import LinkReader
from domain.processors import Processors, SecretBox
from runtime.settings import Settings
from runtime.share_cache import ShareCache, link_cache


@dataclass
class Dependencies:
    """What the app talks to; tests hand in their own (real servers, their own database)."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    sender: TaskSender
    links: LinkReader
    processors: Processors
    outbox: Outbox | None = None
    link_cache: LinkCache | None = None  # what a commit that changes links invalidates

    def units(self) -> UnitOfWork:
        """A unit of work of its own (the pay flow's transactions, beside the request's)."""
        return UnitOfWork(self._session_factory, self.sender, outbox=self.outbox, link_cache=self.link_cache)

    @cached_property
    def _session_factory(self):
        return session_factory(self.engine)


def make_dependencies(settings: Settings) -> Dependencies:
    engine = make_engine(settings.database_url, settings.db_pool_size)
    return Dependencies(
        settings=settings,
        engine=engine,
        redis=redis.Redis.from_url(settings.rate_limit_redis_url, socket_connect_timeout=1, socket_timeout=1),
        sender=CelerySender(),
        links=LinkReader(engine),
        processors=Processors(engine, SecretBox(settings.encryption_key), settings.checkout_base_url,
                              stripe_api_base=settings.stripe_api_base, stripe_js_url=settings.stripe_js_url),
        outbox=settings.outbox(),
        link_cache=link_cache(settings),
    )


def create_app(settings: Settings | None = None, deps: Dependencies | None = None) -> falcon.App:
    settings = settings or (deps.settings if deps else Settings.from_env())
    deps = deps or make_dependencies(settings)
    app = falcon.App(
        middleware=[AccessLog(static_prefixes=(dashboard.STATIC_ROUTE, checkout.STATIC_ROUTE)), RequestId(),
                    UnitOfWorkMiddleware(session_factory(deps.engine), deps.sender, deps.outbox, deps.link_cache), SecurityHeaders(), Authenticate(),
                    Idempotency(settings.max_body_bytes)],
        router=Router(),
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    errors.install(app)

    operations = list(health.OPERATIONS)
    app.add_route("/healthz", health.Health())
    broker = None if settings.redis_url == settings.rate_limit_redis_url else \
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=1)
    app.add_route("/readyz", health.Ready(deps.engine, deps.redis, broker))
    operations += catalog.add_routes(app, settings.max_body_bytes)
    operations += payment_links.add_routes(app, settings)
    operations += checkout_sessions.add_routes(app, settings)
    operations += payments.add_routes(app, deps)
    operations += subscriptions.add_routes(app, settings.max_body_bytes)
    operations += test_clocks.add_routes(app, settings.max_body_bytes)
    operations += account.add_routes(app, deps)
    operations += api_keys.add_routes(app, settings.max_body_bytes)
    operations += events.add_routes(app, settings)
    operations += webhook_endpoints.add_routes(app, settings, deps.processors.box)
    app.add_route("/api/pay/share/{secure_token}",
                  share.Share(settings, deps.links, share_rate_limiter(settings, deps.redis), deps.sender,
                              ShareCache(deps.redis, settings.redis_key_prefix)))
    operations += share.OPERATIONS
    checkout.add_routes(app, settings, deps)
    processor_webhooks.add_routes(app, settings, deps.processors)
    dashboard.add_routes(app, settings, deps)
    app.add_route("/openapi.json", OpenApiResource(operations))
    docs.add_routes(app)
    return app
