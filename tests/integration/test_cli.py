"""The `paymentkit` command line, run as the operator would run it."""
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from paymentkit import servers

PAYMENTKIT = str(Path(sys.executable).parent / "paymentkit")


def run(settings, *args: str, database_url: str | None = None, stdin: str = "",
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url or settings.database_url, **(env or {}))
    return subprocess.run([PAYMENTKIT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_accounts_create_prints_one_json_object_with_working_keys(settings, client, uow_factory):
    done = run(settings, "accounts", "create", "--name", "Corner shop")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    made = json.loads(done.stdout)
    assert set(made) == {"account_id", "api_key", "test_api_key"}
    assert made["account_id"].startswith("acct_")
    assert made["api_key"].startswith("sk_live_") and made["test_api_key"].startswith("sk_test_")

    with uow_factory() as uow:
        name = uow.session.execute(text("SELECT name FROM accounts WHERE id = :a"),
                                   {"a": made["account_id"]}).scalar_one()
    assert name == "Corner shop"

    base = f"/api/{made['account_id']}/products"
    live = client.simulate_post(base, json={"name": "Mug"}, headers={"Authorization": f"Bearer {made['api_key']}"})
    assert live.status_code == 200 and live.json["livemode"] is True
    test = client.simulate_get(base, headers={"Authorization": f"Bearer {made['test_api_key']}"})
    assert test.status_code == 200 and test.json["data"] == []


def test_each_run_makes_a_new_account(settings):
    first, second = (json.loads(run(settings, "accounts", "create", "--name", "Twin").stdout) for _ in range(2))
    assert first["account_id"] != second["account_id"]
    assert first["api_key"] != second["api_key"]


def test_a_blank_name_is_refused_without_a_traceback(settings):
    done = run(settings, "accounts", "create", "--name", "  ")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "name" in done.stderr and "Traceback" not in done.stderr


def test_name_is_required(settings):
    done = run(settings, "accounts", "create")
    assert done.returncode == 2
    assert "--name" in done.stderr


def test_an_unreachable_database_is_a_clear_error(settings):
    done = run(settings, "accounts", "create", "--name", "x", database_url="postgresql://postgres@127.0.0.1:1/none")
    assert done.returncode == 1
    assert "database" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.fixture
def empty_database(server_urls):
    """A database that exists and has no tables (never migrated); dropped afterwards."""
    name = f"pktest_empty_{secrets.token_hex(4)}"
    admin = servers.with_database(server_urls["DATABASE_URL"], "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield servers.with_database(server_urls["DATABASE_URL"], name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_command_on_an_unmigrated_database_says_to_run_db_upgrade(settings, empty_database):
    commands = [("accounts", "create", "--name", "x"), ("users", "create", "--account", "acct_x", "--email", "a@b.co"),
                ("sessions", "stats"), ("sessions", "pending"), ("sessions", "expire-due")]
    for command in commands:
        done = run(settings, *command, database_url=empty_database, stdin="a long enough password\n")
        assert done.returncode == 1, (command, done.stderr)
        assert "Traceback" not in done.stderr, (command, done.stderr)
        assert "is not migrated" in done.stderr and "run: paymentkit db upgrade" in done.stderr, (command, done.stderr)
        assert done.stdout == "", command

    assert run(settings, "db", "upgrade", database_url=empty_database).returncode == 0
    stats = run(settings, "sessions", "stats", database_url=empty_database)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["open"] == 0


# ---- beside `make run` on the embedded path ----------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def without_servers(data_dir: Path, **extra: str) -> dict[str, str]:
    """The operator's shell: no DATABASE_URL, REDIS_URL or PAYMENTKIT_EMBEDDED, this data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PAYMENTKIT_EMBEDDED")}
    return {**env, "PAYMENTKIT_DATA_DIR": str(data_dir), **extra}


@pytest.fixture
def data_dir():
    from tests.faults.stack import private_dir, remove

    folder = private_dir("pk-embedded-")
    yield folder
    subprocess.run([sys.executable, "-m", "paymentkit.servers", "stop", str(folder)], timeout=60)
    print((folder / "make-run.log").read_text() if (folder / "make-run.log").exists() else "")
    remove(folder)


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm to make"])
def test_make_run_embedded_serves_the_cli_its_servers_and_stopping_it_stops_them(data_dir, stop):
    """README's steps: `PAYMENTKIT_EMBEDDED=1 make run`, then `paymentkit accounts create` in
    another shell with nothing set, then a stop: Ctrl-C (SIGINT to the terminal's whole process
    group) or SIGTERM to make alone (a service manager); a clean stop, with no make error."""
    from tests.faults.stack import free_port, wait_until

    port = free_port()
    log = data_dir / "make-run.log"
    env = without_servers(data_dir, PAYMENTKIT_EMBEDDED="1", PORT=str(port), WEB_CONCURRENCY="1", HOST="127.0.0.1")
    with open(log, "w") as out:
        # -o: the venv is installed already (never reinstall it from inside a test).
        make = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "run", "ARGS=web"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/readyz") or make.poll() is not None, 60,
                   what="make run ready")
        assert make.poll() is None, log.read_text()
        banner = log.read_text()
        embedded = servers.embedded_urls(data_dir)
        assert set(embedded) == {"DATABASE_URL", "REDIS_URL"}, banner
        assert f"PostgreSQL at {embedded['DATABASE_URL']}  (embedded, under {data_dir}" in banner
        assert f"Redis at {embedded['REDIS_URL']}  (embedded, under {data_dir}" in banner

        made = subprocess.run([PAYMENTKIT, "accounts", "create", "--name", "Beside make run"], env=without_servers(data_dir),
                              capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        account = json.loads(made.stdout)
        # The web process of `make run` knows the account: the command wrote to its database.
        assert _answers(f"http://127.0.0.1:{port}/api/{account['account_id']}/products",
                        {"Authorization": f"Bearer {account['api_key']}"})
        stats = subprocess.run([PAYMENTKIT, "sessions", "stats"], env=without_servers(data_dir),
                               capture_output=True, text=True, timeout=60)
        assert stats.returncode == 0 and json.loads(stats.stdout)["open"] == 0, stats.stderr
    finally:
        if make.poll() is None and stop == "ctrl-c":
            os.killpg(make.pid, signal.SIGINT)
        elif make.poll() is None:
            make.terminate()
        make.wait(timeout=60)

    output = log.read_text()
    assert "***" not in output and "Error" not in output and "Traceback" not in output, output
    assert not servers.postgres_answers(embedded["DATABASE_URL"]), output
    assert not servers.redis_answers(embedded["REDIS_URL"]), output
    assert servers.embedded_urls(data_dir) == {}  # struck out: commands are back on the defaults


def _answers(url: str, headers: dict[str, str] | None = None) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_payments_open_and_reconcile_resolve_a_lost_answer(settings, deps, client, uow_factory, tmp_path):
    """A payment whose answer was lost shows in `payments open`; `payments reconcile` asks the
    processor and completes its session, as the beat's job would, and counts the completed
    session where `paymentkit metrics serve` reads every process's counts."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from falcon import testing

    from api.app import create_app
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.ids import new_id
    from domain.payments.builtin import Faults, TimeoutAt
    from tests.conftest import find_share_link, make_merchant

    merchant = make_merchant(client, uow_factory).in_test_mode()
    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(800)["id"]}]})
    token = new_checkout_token(settings.secret_key, datetime.now(UTC))
    with uow_factory() as uow:
        found = find_share_link(uow.session.get_bind(), link["secure_token"])
        checkout_sessions.store(uow, checkout_sessions.new_session(found, session_id=new_id("cs", False),
                                                                   checkout_token=token, now=datetime.now(UTC)))
        uow.commit()
    lost = testing.TestClient(create_app(settings, replace(
        deps, processors=replace(deps.processors, faults=Faults(timeout=TimeoutAt.AFTER)))))
    lost.simulate_post(f"/checkout/{token}/pay", headers={"Content-Type": "application/x-www-form-urlencoded"},
                       body="email=a%40example.com&card_number=4242424242424242&exp=12%2F34&cvc=123",
                       remote_addr="10.66.0.1")
    with uow_factory() as uow:
        payment_id = checkout_sessions.find_by_token(uow, token).payment_id

    shown = run(settings, "payments", "open", "--limit", "1000")
    assert shown.returncode == 0, shown.stderr
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert any(row["id"] == payment_id and row["status"] == "processing" for row in rows)
    done = run(settings, "payments", "reconcile", payment_id, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"payment_id": payment_id, "step": "completed"}
    with uow_factory() as uow:
        assert checkout_sessions.find_by_token(uow, token).status == "complete"
    counted = CollectorRegistry()
    MultiProcessCollector(counted, path=str(tmp_path))
    assert counted.get_sample_value("paymentkit_checkout_sessions_completed_total") == 1


def test_payments_reconcile_also_resolves_a_due_setup_whose_answer_was_lost(settings, deps, client, uow_factory):
    from datetime import UTC, datetime, timedelta

    from domain import checkout_sessions
    from domain.payments.builtin import Faults, TimeoutAt
    from tests.conftest import make_merchant
    from tests.integration.test_paying import make_link, open_session, pay, session_of, with_faults

    merchant = make_merchant(client, uow_factory).in_test_mode()
    token = open_session(uow_factory, settings, make_link(merchant, mode="setup"))
    pay(with_faults(settings, deps, Faults(timeout=TimeoutAt.AFTER)), token)
    with uow_factory() as uow:  # due now
        session = checkout_sessions.find_by_token(uow, token)
        session.method_check_at, session_id = datetime.now(UTC) - timedelta(seconds=1), session.id
        uow.commit()
    done = run(settings, "payments", "reconcile")
    assert done.returncode == 0, done.stderr
    assert {"checkout_session_id": session_id, "step": "completed"} in [json.loads(line)
                                                                         for line in done.stdout.splitlines()]
    assert session_of(uow_factory, token).status == "complete"


def test_billing_stats_due_and_run_charge_a_due_renewal(settings, deps, client, uow_factory):
    """A renewal past its due time shows in `billing stats` and `billing due`; `billing run` makes
    its invoice and charges it in this process, as the beat's sweep and job would."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from domain.models import Invoice, Subscription
    from tests.conftest import make_merchant
    from tests.integration.test_paying import make_link, open_session, pay, session_of

    merchant = make_merchant(client, uow_factory).in_test_mode()
    link = make_link(merchant, mode="subscription", line_items=[{"price_id": merchant.recurring_price(700)["id"]}])
    token = open_session(uow_factory, settings, link)
    assert pay(client, token).status_code == 303
    sub_id = session_of(uow_factory, token).subscription_id
    overdue = datetime.now(UTC) - timedelta(minutes=5)
    with uow_factory() as uow:  # its period ended five minutes ago
        uow.session.execute(update(Subscription).where(Subscription.id == sub_id).values(
            current_period_end=overdue, next_billing_at=overdue))
        uow.commit()

    stats = run(settings, "billing", "stats")
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert counts["renewals_due"] >= 1 and counts["oldest_overdue_seconds"] >= 300
    due = [json.loads(line) for line in run(settings, "billing", "due", "--limit", "1000").stdout.splitlines()]
    assert {"kind": "renewal", "id": sub_id} in [{"kind": d["kind"], "id": d["id"]} for d in due]
    done = run(settings, "billing", "run")
    assert done.returncode == 0, done.stderr
    with uow_factory() as uow:
        [renewal] = uow.session.scalars(select_invoices(Invoice, sub_id, overdue)).all()
        assert (renewal.status, renewal.amount_total_atom) == ("paid", 700)
        renewal_id = renewal.id
    charged = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"invoice_id": renewal_id, "attempt": 0, "status": "succeeded"} in charged
    again = run(settings, "billing", "run", renewal_id)
    assert json.loads(again.stdout) == {"invoice_id": renewal_id, "attempt": 1, "status": None}  # paid: nothing


def select_invoices(invoice, sub_id, period_start):
    from sqlalchemy import select

    return select(invoice).where(invoice.subscription_id == sub_id, invoice.period_start == period_start)
