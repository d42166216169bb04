"""Fault tests run the service as it runs in production (gunicorn and Celery worker subprocesses)
against private PostgreSQL and Redis servers that the tests stop, pause and restart."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.stack import PostgresServer, RedisServer, Stack, call, private_dir, remove

@pytest.fixture(scope="session")
def faults_dir():
    folder = private_dir("pkfaults-")
    yield folder
    remove(folder)


@pytest.fixture(scope="session")
def private_postgres(faults_dir):
    """A private PostgreSQL with a migrated `paymentkit` database; the machine's own is never touched."""
    import psycopg

    from paymentkit.cli import migrate

    server = PostgresServer(faults_dir)
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "paymentkit"')
    migrate(server.url("paymentkit"))
    yield server
    server.close()


@pytest.fixture
def private_redis(faults_dir):
    folder = faults_dir / f"redis-{id(object())}"
    folder.mkdir()
    server = RedisServer(folder).start()
    yield server
    server.close()


def make_stack(database_url: str, redis_url: str, folder: Path, **extra_env: str) -> Stack:
    folder.mkdir(parents=True, exist_ok=True)
    # No limiter in the way of fault tests (the load test runs with it on).
    env = {"SHARE_RATE_CAPACITY": "100000", **extra_env}
    return Stack(database_url=database_url, redis_url=redis_url, folder=folder, extra_env=env)


@pytest.fixture
def stack_factory(faults_dir, request):
    made: list[Stack] = []

    def factory(database_url: str, redis_url: str, **extra_env: str) -> Stack:
        stack = make_stack(database_url, redis_url, faults_dir / f"{request.node.name[:40]}-{len(made)}", **extra_env)
        made.append(stack)
        return stack

    yield factory
    for stack in made:
        stack.close()


@dataclass
class Shop:
    """A merchant on a running stack, with one active payment link."""

    base_url: str
    account_id: str
    api_key: str
    link: dict
    checkout_tokens: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, json_body=None, **kw):
        headers = {"Authorization": f"Bearer {self.api_key}", **kw.pop("headers", {})}
        return call(self.base_url, method, f"/api/{self.account_id}{path}", json_body=json_body, headers=headers,
                    **kw)

    def open_link(self, **kw):
        answer = call(self.base_url, "GET", f"/api/pay/share/{self.link['secure_token']}",
                      headers={"Accept": "application/json"}, **kw)
        if answer.status == 200:
            self.checkout_tokens.append(answer.json["checkout_url"].rsplit("/", 1)[-1])
        return answer

    def secrets(self) -> list[str]:
        """What must never appear in a log: the API key, the link's token, every checkout token."""
        return [self.api_key, self.link["secure_token"], *self.checkout_tokens]


def assert_no_secrets_logged(stack: Stack, shop: Shop) -> None:
    logs = stack.logs()
    assert logs, "the stack wrote no logs at all"
    leaked = [secret[:12] + "..." for secret in shop.secrets() if secret in logs]
    assert not leaked, f"secrets in the logs of gunicorn or the worker: {leaked}"


def make_shop(stack: Stack, engine) -> Shop:
    from domain.accounts import create_account
    from domain.db import UnitOfWork, session_factory

    with UnitOfWork(session_factory(engine)) as uow:
        made = create_account(uow, "Faults shop")
        uow.commit()
    shop = Shop(stack.web_url, made.account_id, made.api_key, {})
    product = shop.api("POST", "/products", {"name": "Mug"}).json
    price = shop.api("POST", "/prices", {"product_id": product["id"], "unit_amount_atom": 1500,
                                         "currency": "EUR"}).json
    answer = shop.api("POST", "/payment-links", {"name": "Mug", "line_items": [{"price_id": price["id"]}]})
    assert answer.status == 200, answer.text
    shop.link = answer.json
    return shop


def engine_for(database_url: str):
    from domain.db import make_engine

    return make_engine(database_url, 2)


def stored_ids(engine, link_id: str) -> list[str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM checkout_sessions WHERE payment_link_id = :link"),
                                 {"link": link_id}).scalars())


_HANDED = re.compile(r"checkout sessions handed to checkout_sessions\.store\[(?P<job>[^\]]+)\]: (?P<ids>[\w ]+)")


def store_jobs(log: str) -> dict[str, list[str]]:
    """The `checkout_sessions.store` jobs each session was handed to, from the workers' hand-off
    lines (workers/session_batches.py): more than one if its message was delivered again."""
    jobs: dict[str, list[str]] = {}
    for match in _HANDED.finditer(log):
        for session_id in match["ids"].split():
            jobs.setdefault(session_id, []).append(match["job"])
    return jobs
