"""The `paymentkit` command line, run as the operator would run it."""
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from paymentkit import servers

PAYMENTKIT = str(Path(sys.executable).parent / "paymentkit")


def run(settings, *args: str, database_url: str | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url or settings.database_url)
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
