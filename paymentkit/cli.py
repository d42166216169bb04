"""`paymentkit`: the operator's command line.

    paymentkit accounts create --name NAME   one JSON object: account_id, api_key, test_api_key
    paymentkit users create --account ACCOUNT --email EMAIL
                                             a dashboard user; the password is prompted for
                                             (or read from standard input)
    paymentkit db upgrade                    apply migrations to DATABASE_URL
    paymentkit sessions stats                JSON: open, complete, expired, due_now, oldest_overdue_seconds
    paymentkit sessions pending [--limit N]  the next open sessions to expire, overdue ones first
    paymentkit sessions expire-due           run one expiry sweep now (with its follow-up jobs)
    paymentkit payments open [--limit N]     JSON lines: payments still processing or waiting for the customer
    paymentkit payments reconcile [PAY_ID ...]  ask the processor now (these, or every due one)
    paymentkit billing stats|due|run         subscription billing (paymentkit/billing_cli.py)
    paymentkit metrics serve                 Prometheus metrics of this host's processes on
                                             METRICS_HOST:METRICS_PORT (127.0.0.1:9100)
    paymentkit dev run | test [ARGS] | exec CMD   make sure PostgreSQL and Redis answer (starting
                                             private ones if needed), then run, test or run CMD

Every command but `dev` talks to the private PostgreSQL and Redis that `make run` started under
.data/ (or PAYMENTKIT_DATA_DIR) while they run, unless DATABASE_URL or REDIS_URL says otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def _accounts_create(args: argparse.Namespace) -> int:
    from domain.accounts import create_account
    from domain.db import UnitOfWork, make_engine, session_factory
    from domain.errors import DomainError
    from runtime.settings import Settings

    engine = make_engine(Settings.from_env().database_url, 1)
    try:
        with UnitOfWork(session_factory(engine)) as uow:
            made = create_account(uow, args.name)
            uow.commit()
    except DomainError as error:
        print(f"paymentkit: --{error.param}: {error.message}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps({"account_id": made.account_id, "api_key": made.api_key, "test_api_key": made.test_api_key}))
    return 0


def _read_password() -> str:
    """Prompted for twice on a terminal; otherwise the first line of standard input."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("Password (at least 10 characters): ")
        if getpass.getpass("Repeat the password: ") != password:
            raise SystemExit("The passwords do not match.")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def _users_create(args: argparse.Namespace) -> int:
    from domain.db import UnitOfWork, make_engine, session_factory
    from domain.errors import InvalidRequest
    from domain.users import create_user
    from runtime.settings import Settings

    password = _read_password()
    engine = make_engine(Settings.from_env().database_url, 1)
    with UnitOfWork(session_factory(engine)) as uow:
        try:
            user = create_user(uow, args.account, args.email, password)
        except InvalidRequest as error:
            print(f"{error.param}: {error.message}", file=sys.stderr)
            return 1
        uow.commit()
    print(json.dumps({"user_id": user.id, "account_id": user.account_id, "email": user.email}))
    return 0


def _sessions_stats(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from domain import expiry
    from domain.db import make_engine, utcnow
    from runtime.settings import Settings

    engine = make_engine(Settings.from_env().database_url, 1)
    with engine.connect() as conn:
        print(json.dumps(asdict(expiry.stats(conn, utcnow()))))
    return 0


def _sessions_pending(args: argparse.Namespace) -> int:
    from domain import expiry
    from domain.db import make_engine, utcnow
    from runtime.settings import Settings

    engine = make_engine(Settings.from_env().database_url, 1)
    with engine.connect() as conn:
        for row in expiry.pending(conn, utcnow(), args.limit):
            print(json.dumps({"id": row.id, "account_id": row.account_id, "livemode": row.livemode,
                              "expires_at": row.expires_at.isoformat(), "overdue_seconds": row.overdue_seconds}))
    return 0


def _sessions_expire_due(args: argparse.Namespace) -> int:
    """The beat's sweep, by hand and to the end (no time budget), follow-up jobs included."""
    from domain.db import utcnow
    from workers.tasks import sweep_and_follow_up

    result = sweep_and_follow_up(utcnow(), budget_seconds=None)
    print(json.dumps({"ran": result.ran, "expired": result.expired, "batches": result.batches}))
    return 0 if result.ran else 3


def _payments_open(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from domain import checkout_payments
    from domain.db import UnitOfWork, make_engine, session_factory
    from runtime.settings import Settings

    engine = make_engine(Settings.from_env().database_url, 1)
    with UnitOfWork(session_factory(engine)) as uow:
        for found in checkout_payments.open_outcomes(uow, args.limit):
            print(json.dumps(asdict(found), default=str))
    return 0


def _payments_reconcile(args: argparse.Namespace) -> int:
    """Ask the processor now, in this process: the given payments, or every one that is due (and
    every setup checkout whose card's answer is due to be asked about)."""
    from domain import checkout_payments
    from domain.db import utcnow
    from runtime import metrics
    from workers.context import processors, unit_of_work

    ids, setups = args.payment_ids, []
    if not ids:
        with unit_of_work() as uow:
            ids = checkout_payments.claim_due(uow, utcnow())
            setups = checkout_payments.claim_due_method_checks(uow, utcnow())
            uow.commit()

    def report(name: str, object_id: str, attempt) -> None:
        if attempt is not None and attempt.completed:
            metrics.SESSIONS_COMPLETED.inc()  # seen by `metrics serve` when PROMETHEUS_MULTIPROC_DIR is set
        print(json.dumps({name: object_id, "step": attempt.step.value if attempt else None}))

    for payment_id in ids:
        report("payment_id", payment_id,
               checkout_payments.reconcile(unit_of_work, payment_id, processors().for_processor, utcnow))
    for session_id in setups:
        report("checkout_session_id", session_id,
               checkout_payments.reconcile_saved_method(unit_of_work, session_id, processors().for_owner, utcnow))
    return 0


def _metrics_serve(args: argparse.Namespace) -> int:
    """The Procfile's `metrics`: what every web and worker process counted, on a loopback port."""
    from runtime import metrics
    from runtime.settings import Settings

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        print("paymentkit: set PROMETHEUS_MULTIPROC_DIR to the folder the web and worker processes write their "
              "metrics to (make run does)", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    try:
        server, thread = metrics.start_server(settings.metrics_host, settings.metrics_port)
    except OSError as error:
        print(f"paymentkit: metrics cannot listen on {settings.metrics_host}:{settings.metrics_port} ({error.strerror}); "
              f"set METRICS_PORT", file=sys.stderr)
        return 1
    print(f"metrics on http://{settings.metrics_host}:{server.server_port}/metrics", flush=True)
    thread.join()
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from runtime.settings import Settings

    migrate(Settings.from_env().database_url)
    return 0


def _dev(args: argparse.Namespace) -> int:
    """Set up what `make run` / `make test` need, then run the Procfile or hand the process over."""
    from paymentkit import servers

    given = dict(os.environ)
    urls = servers.ensure()
    os.environ.update(urls)
    bin_dir = Path(sys.executable).parent
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    if args.what == "run":
        migrate(os.environ["DATABASE_URL"])
        port = os.environ.setdefault("PORT", "8000")
        base = os.environ.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
        print("\n".join(servers.describe(urls, given)), flush=True)
        metrics_at = f"http://{os.environ.get('METRICS_HOST') or '127.0.0.1'}:{os.environ.get('METRICS_PORT') or '9100'}"
        print(f"PaymentKit on {base}  (readiness: {base}/readyz, API reference: {base}/docs; "
              f"metrics, this host only: {metrics_at}/metrics)\n"
              f"Make an account:  .venv/bin/paymentkit accounts create --name 'My shop'\n"
              f"Then a dashboard user:  .venv/bin/paymentkit users create --account acct_... --email you@example.com\n"
              f"and sign in at {base}/dashboard", flush=True)
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:  # every process's metrics, added up by `metrics`
            metrics_dir = servers.DATA_DIR / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        os.chdir(ROOT)
        return _run_procfile(bin_dir / "honcho", args.extra or ["web", "worker", "beat", "metrics"],
                             stop_servers=servers.uses_embedded(urls))
    if args.what == "exec":
        if not args.extra:
            raise SystemExit("usage: paymentkit dev exec COMMAND [ARGS...]")
        migrate(os.environ["DATABASE_URL"])
        os.execvp(args.extra[0], args.extra)
    os.chdir(ROOT)
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *(args.extra or [])])


def _run_procfile(honcho: Path, processes: list[str], *, stop_servers: bool) -> int:
    """honcho runs the Procfile's processes until Ctrl-C or SIGTERM (or one of them ends); then
    the private servers stop too, where this run uses them.

    A stop asked for by a signal is a clean stop: exit 0, where honcho exits 130 or 143 and
    make would report that as an error. SIGTERM sent to this process alone is passed on to
    honcho (Ctrl-C reaches every process of the terminal's group by itself)."""
    import signal

    from paymentkit import servers

    runner = subprocess.Popen([str(honcho), "start", "-f", str(ROOT / "Procfile"), *processes])
    signals: list[int] = []

    def stop(signum, frame) -> None:
        signals.append(signum)
        runner.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        code = runner.wait()
    finally:
        if stop_servers:
            print(f"stopping the embedded servers under {servers.DATA_DIR}", flush=True)
            servers.stop_embedded(servers.DATA_DIR)
    return 0 if signals else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paymentkit", description="PaymentKit payment links")
    sub = parser.add_subparsers(dest="command", required=True)

    accounts = sub.add_parser("accounts", help="merchant accounts").add_subparsers(dest="action", required=True)
    create = accounts.add_parser("create", help="make an account and its live and test API keys")
    create.add_argument("--name", required=True)
    create.set_defaults(func=_accounts_create)

    users = sub.add_parser("users", help="dashboard users").add_subparsers(dest="action", required=True)
    create_user = users.add_parser("create", help="make a user who signs in to an account's dashboard")
    create_user.add_argument("--account", required=True, help="the account id (acct_...)")
    create_user.add_argument("--email", required=True)
    create_user.set_defaults(func=_users_create)

    sessions = sub.add_parser("sessions", help="checkout session expiry").add_subparsers(dest="action",
                                                                                          required=True)
    sessions.add_parser("stats", help="counts by status, due now and the overdue lag").set_defaults(
        func=_sessions_stats)
    pending = sessions.add_parser("pending", help="the next open sessions to expire, overdue ones first")
    pending.add_argument("--limit", type=int, default=20)
    pending.set_defaults(func=_sessions_pending)
    sessions.add_parser("expire-due", help="run one expiry sweep now").set_defaults(func=_sessions_expire_due)

    payments = sub.add_parser("payments", help="payments whose outcome is open").add_subparsers(dest="action",
                                                                                                required=True)
    open_ = payments.add_parser("open", help="payments still processing or waiting for the customer")
    open_.add_argument("--limit", type=int, default=50)
    open_.set_defaults(func=_payments_open)
    reconcile = payments.add_parser("reconcile", help="ask the processor now about these payments (or every due one)")
    reconcile.add_argument("payment_ids", nargs="*")
    reconcile.set_defaults(func=_payments_reconcile)

    from paymentkit import billing_cli

    billing_cli.add_parser(sub)

    metrics = sub.add_parser("metrics", help="Prometheus metrics").add_subparsers(dest="action", required=True)
    metrics.add_parser("serve", help="serve this host's metrics on METRICS_HOST:METRICS_PORT").set_defaults(
        func=_metrics_serve)

    db = sub.add_parser("db", help="the database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=_db_upgrade)

    dev = sub.add_parser("dev", help="what make run / make test do")
    dev.add_argument("what", choices=["run", "test", "exec"])
    dev.add_argument("extra", nargs=argparse.REMAINDER)
    dev.set_defaults(func=_dev)

    args = parser.parse_args(argv)
    if args.command != "dev":  # `dev` finds or starts its servers itself
        from paymentkit import servers

        os.environ.update(servers.running_embedded())
    try:
        return args.func(args)
    except Exception as error:
        problem = database_problem(error)
        if problem is None:
            raise
        print(f"paymentkit: {problem}", file=sys.stderr)
        return 1


def database_problem(error: BaseException) -> str | None:
    """What is wrong with the database, in words an operator can act on, when `error` says the
    database is out of reach or not migrated; None for any other error. Every command's errors
    come through here, so none of them ends in a driver's traceback for these two."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    from paymentkit.servers import safe_url
    from runtime.settings import Settings

    cause = error.orig if isinstance(error, DBAPIError) else error
    where = safe_url(Settings.from_env().database_url)
    detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if isinstance(cause, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)):
        return f"the database at {where} is not migrated ({detail}); run: paymentkit db upgrade"
    if isinstance(cause, psycopg.OperationalError):
        return f"cannot reach the database at {where}: {detail}"
    return None


if __name__ == "__main__":
    sys.exit(main())
