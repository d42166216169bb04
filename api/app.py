"""The app factory: `create_app(settings)` wires the resources to their dependencies."""
from __future__ import annotations

from dataclasses import dataclass

import falcon
import redis

from api import dashboard, errors
from api.enqueue import CelerySender, TaskSender
from api.middleware import Authenticate, Idempotency, RequestId, SecurityHeaders, UnitOfWorkMiddleware
from api.openapi import OpenApiResource
from api.ratelimit import share_rate_limiter
from api.routing import Router
from api.resources import catalog, checkout_page, checkout_sessions, health, payment_links, share
from domain.db import make_engine, session_factory
from runtime.settings import Settings


@dataclass
class Dependencies:
    """What the app talks to; tests hand in their own (real servers, their own database)."""

    settings: Settings
    engine: object
    redis: redis.Redis
    sender: TaskSender


def make_dependencies(settings: Settings) -> Dependencies:
    return Dependencies(
        settings=settings,
        engine=make_engine(settings.database_url, settings.db_pool_size),
        redis=redis.Redis.from_url(settings.rate_limit_redis_url, socket_connect_timeout=1, socket_timeout=1),
        sender=CelerySender(),
    )


def create_app(settings: Settings | None = None, deps: Dependencies | None = None) -> falcon.App:
    settings = settings or (deps.settings if deps else Settings.from_env())
    deps = deps or make_dependencies(settings)
    app = falcon.App(
        middleware=[RequestId(), UnitOfWorkMiddleware(session_factory(deps.engine), deps.sender), SecurityHeaders(), Authenticate(),
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
    app.add_route("/api/pay/share/{secure_token}",
                  share.Share(settings, deps.engine, share_rate_limiter(settings, deps.redis), deps.sender))
    operations += share.OPERATIONS
    checkout_page.add_routes(app, settings)
    dashboard.add_routes(app, settings, deps)
    app.add_route("/openapi.json", OpenApiResource(operations))
    return app
