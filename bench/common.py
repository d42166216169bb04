"""What the benches share: a scratch database, child processes in their own process groups (killed
even on Ctrl-C), peak RSS from /proc, a seeded payment link, and the result rows of the table."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class Row:
    """One line of the final table: a measurement, its baseline and what the ratio should be."""

    bench: str
    what: str
    value: str
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None


def prepare_environment() -> dict[str, str]:
    """PostgreSQL and Redis that answer (private ones started if needed) and this run's own Redis key
    prefix, put in os.environ before anything imports celeryconfig (it reads them at import)."""
    from paymentkit import servers

    os.environ.update(servers.ensure())
    os.environ.setdefault("REDIS_KEY_PREFIX", f"pkbench_{secrets.token_hex(4)}:")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    return dict(os.environ)


@contextmanager
def scratch_database(tag: str):
    """A fresh database migrated with Alembic; dropped afterwards, whatever happens."""
    import psycopg

    from paymentkit.cli import migrate
    from paymentkit.servers import with_database

    admin = os.environ["DATABASE_URL"]
    name = f"pk_bench_{tag}_{secrets.token_hex(4)}"
    maintenance = with_database(admin, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_redis_keys(client, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Child:
    """A subprocess in its own process group, output to a log file; stopping it stops the group."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        try:  # anything left in the group (a pool child that outlived its parent)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


@contextmanager
def child(args: list[str], env: dict[str, str], log_path: Path):
    started = Child(args, env, log_path)
    try:
        yield started
    finally:
        started.stop()


def sigterm_as_interrupt() -> None:
    """`kill <bench>` cleans up like Ctrl-C does (the finally blocks stop the children); Ctrl-C is
    handled even when the shell started the bench with SIGINT ignored (a background job)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


# ---- memory ---------------------------------------------------------------------------------

def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


# ---- data -----------------------------------------------------------------------------------

@contextmanager
def shop(settings, name: str):
    """An account named `name` and the app around it, in-process: `(deps, client, account)`, the
    client a Falcon test client of the app; the engine is disposed at the end."""
    from falcon import testing

    from api.app import create_app, make_dependencies
    from domain.accounts import create_account
    from domain.db import UnitOfWork, session_factory

    deps = make_dependencies(settings)
    try:
        with UnitOfWork(session_factory(deps.engine)) as uow:
            made = create_account(uow, name)
            uow.commit()
        yield deps, testing.TestClient(create_app(settings, deps)), made
    finally:
        deps.engine.dispose()


def api_poster(client, account_id: str, api_key: str):
    """`ok(path, body)`: a POST of the account's API through a Falcon test client, its JSON
    answer, or a RuntimeError naming the path (how the benches seed their catalog and links)."""
    auth = {"Authorization": f"Bearer {api_key}"}

    def ok(path: str, body: dict) -> dict:
        result = client.simulate_post(f"/api/{account_id}{path}", json=body, headers=auth)
        if result.status_code != 200:
            raise RuntimeError(f"seeding {path}: {result.status} {result.text}")
        return result.json

    return ok


@dataclass(frozen=True)
class Seeded:
    account_id: str
    api_key: str
    link_id: str
    secure_token: str


def seed_link(settings, extra_links: int = 10_000, extra_prices: int = 2_000) -> Seeded:
    """One account selling through one payment link (two prices, made through the API), with
    `extra_links` more links and `extra_prices` more prices: a shop, not a one-row toy."""
    from sqlalchemy import text

    with shop(settings, "Bench shop") as (deps, client, made):
        ok = api_poster(client, made.account_id, made.api_key)

        mug = ok("/prices", {"product_id": ok("/products", {"name": "Mug"})["id"], "unit_amount_atom": 1999,
                             "currency": "USD"})
        tee = ok("/prices", {"product_id": ok("/products", {"name": "T-shirt"})["id"], "unit_amount_atom": 2500,
                             "currency": "USD"})
        link = ok("/payment-links", {
            "name": "Newsletter offer",
            "line_items": [{"price_id": mug["id"], "quantity": 2}, {"price_id": tee["id"], "quantity": 1}],
            "success_url": "https://shop.example/thanks?session={CHECKOUT_SESSION_ID}",
            "return_url": "https://shop.example/cart", "expires_in_hours": 24,
        })
        with deps.engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO payment_links (id, account_id, livemode, created_at, updated_at, secure_token, name, mode,
                    is_active, line_items, package_ids, customer_id, coupon_id, free_trial_days, success_url,
                    return_url, expires_in_hours, allow_cart_edit, accepted_payment_methods, metadata, currency,
                    total_amount_atom)
                SELECT 'pl_live_b' || substr(md5(n::text), 1, 19), l.account_id, true, now(), now(),
                       md5(n::text || 'bench'), 'Link ' || n, l.mode, true, l.line_items, l.package_ids,
                       null, null, null, l.success_url, l.return_url, l.expires_in_hours, false,
                       l.accepted_payment_methods, '{}'::jsonb, l.currency, l.total_amount_atom
                  FROM payment_links l, generate_series(1, :n) AS n
                 WHERE l.id = :link"""), {"n": extra_links, "link": link["id"]})
            conn.execute(text("""
                INSERT INTO prices (id, account_id, livemode, product_id, active, unit_amount_atom, currency, type,
                                    created_at, updated_at)
                SELECT 'price_live_b' || n, p.account_id, true, p.product_id, true, 100 + n, 'USD', 'one_time', now(),
                       now()
                  FROM prices p, generate_series(1, :n) AS n
                 WHERE p.id = :price"""), {"n": extra_prices, "price": mug["id"]})
            conn.exec_driver_sql("ANALYZE payment_links")
            conn.exec_driver_sql("ANALYZE prices")
        return Seeded(made.account_id, made.api_key, link["id"], link["secure_token"])


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
