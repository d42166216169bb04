"""`paymentkit accounts create --name NAME`, run as the operator would run it."""
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

PAYMENTKIT = str(Path(sys.executable).parent / "paymentkit")


def run(settings, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url or settings.database_url)
    return subprocess.run([PAYMENTKIT, *args], env=env, capture_output=True, text=True, timeout=60)


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
