"""Each test run gets its own PostgreSQL database and its own Redis key prefix, on real servers."""
from __future__ import annotations

import os
import secrets

RUN_ID = secrets.token_hex(4)
# Before anything reads settings: this run's Redis key space (limiter and broker).
os.environ["REDIS_KEY_PREFIX"] = f"pktest_{RUN_ID}:"

import psycopg  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402

from paymentkit import servers  # noqa: E402
from runtime.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def server_urls() -> dict[str, str]:
    return servers.ensure()


@pytest.fixture(scope="session")
def database_url(server_urls):
    """A fresh database, migrated with Alembic, dropped at the end of the run."""
    from paymentkit.cli import migrate

    admin_url = server_urls["DATABASE_URL"]
    name = f"pktest_{RUN_ID}"
    url = servers.with_database(admin_url, name)
    with psycopg.connect(servers.with_database(admin_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(url)
    yield url
    with psycopg.connect(servers.with_database(admin_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url, server_urls) -> Settings:
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=server_urls["REDIS_URL"],
               PUBLIC_BASE_URL="https://pay.example.test", CHECKOUT_BASE_URL="https://checkout.example.test",
               STRIPE_API_BASE="http://127.0.0.1:9",  # no test reaches Stripe: a closed loopback port
               # Webhook receivers in tests listen on loopback (tests/integration/test_webhooks.py
               # checks the guard itself with private addresses refused).
               WEBHOOK_ALLOW_PRIVATE_URLS="1")
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = server_urls["REDIS_URL"]
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def redis_client(settings):
    client = redis.Redis.from_url(settings.redis_url)
    yield client
    for key in client.scan_iter(match=f"{settings.redis_key_prefix}*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session")
def deps(settings, redis_client):
    from api.app import make_dependencies

    made = make_dependencies(settings)
    yield made
    made.engine.dispose()


@pytest.fixture(scope="session")
def app(settings, deps):
    from api.app import create_app

    return create_app(settings, deps)


@pytest.fixture
def client(app):
    from falcon import testing

    return testing.TestClient(app)


@pytest.fixture
def uow_factory(deps):
    from domain.db import UnitOfWork, session_factory

    factory = session_factory(deps.engine)
    return lambda: UnitOfWork(factory, deps.sender, outbox=deps.outbox, link_cache=deps.link_cache)


class Merchant:
    """One fresh account, talking to the API with its live (or test) key."""

    def __init__(self, client, account_id: str, api_key: str, test_api_key: str):
        self.client = client
        self.account_id = account_id
        self.api_key = api_key
        self.test_api_key = test_api_key

    def _call(self, method: str, path: str, json=None, key: str | None = None, headers=None, **kwargs):
        all_headers = {"Authorization": f"Bearer {key or self.api_key}", **(headers or {})}
        url = f"/api/{self.account_id}{path}"
        return self.client.simulate_request(method, url, json=json, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)

    def in_test_mode(self) -> "Merchant":
        """The same account, talking with its test key (`live_api_key` keeps the other)."""
        made = Merchant(self.client, self.account_id, self.test_api_key, self.test_api_key)
        made.live_api_key = self.api_key
        return made

    def ok(self, method: str, path: str, json=None, **kw) -> dict:
        """The call's JSON body, after asserting it succeeded."""
        result = self._call(method, path, json=json, **kw)
        assert result.status_code == 200, (result.status, result.text)
        return result.json

    # catalog short-cuts for tests that need something to sell
    def product(self, name="Widget") -> dict:
        return self.ok("POST", "/products", {"name": name})

    def price(self, amount=1000, currency="USD", **fields) -> dict:
        product_id = fields.pop("product_id", None) or self.product()["id"]
        return self.ok("POST", "/prices", {"product_id": product_id, "unit_amount_atom": amount,
                                           "currency": currency, **fields})

    def recurring_price(self, amount=2000, currency="USD", interval="month", **fields) -> dict:
        return self.price(amount, currency, type="recurring", interval=interval, **fields)


@pytest.fixture
def merchant(client, uow_factory) -> Merchant:
    return make_merchant(client, uow_factory)


@pytest.fixture
def other_merchant(client, uow_factory) -> Merchant:
    return make_merchant(client, uow_factory)


def make_merchant(client, uow_factory) -> Merchant:
    from domain.accounts import create_account

    with uow_factory() as uow:
        made = create_account(uow, "Test shop")
        uow.commit()
    return Merchant(client, made.account_id, made.api_key, made.test_api_key)


@pytest.fixture(scope="session")
def celery_worker(deps):
    """A real Celery worker in a thread, on this run's Redis key space and database."""
    from celery.contrib.testing.worker import start_worker

    import workers
    import workers.tasks  # noqa: F401  (registers the tasks)
    from domain.db import session_factory
    from workers import context

    context.use(session_factory(deps.engine))
    context.use_settings(deps.settings)
    with start_worker(workers.app, pool="threads", concurrency=4, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=15) as worker:
        yield worker


def metric(name: str) -> float:
    """A sample of this process's Prometheus metrics (tests/integration/test_metrics.py reads them
    over HTTP, as Prometheus would; elsewhere a count before and after is enough)."""
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name) or 0.0


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    """Poll until `predicate()` is truthy (a worker doing its job); fail after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def find_share_link(engine, secure_token: str):
    """The link as the share path reads it (`LinkReader`), on a connection of its own."""
    from domain.link_reader import LinkReader

    reader = LinkReader(engine)
    try:
        return reader.find(secure_token)
    finally:
        reader.close()


TEST_CARD = "4242424242424242"


def pay_session(deps, checkout_token: str, now=None, *, card: str = TEST_CARD, email: str = "buyer@example.com",
                name: str | None = None):
    """Pay a test-mode session as the hosted checkout does (the built-in test processor, our
    real pay flow), at `now` (a datetime) if given; the `Attempt`."""
    from domain import checkout_payments
    from domain.db import utcnow

    processor = deps.processors.test_processor()
    form = checkout_payments.PayForm(email=email, name=name, card=processor.read_card(card, "12/34", "123"))
    return checkout_payments.pay(deps.units, checkout_token, form, processor, now=lambda: now or utcnow(),
                                 return_url="https://checkout.example.test/return")
