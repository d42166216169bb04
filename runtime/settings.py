"""Every setting comes from the environment, read once into one typed object."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/paymentkit"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_STRIPE_JS_URL = "https://js.stripe.com/v3/"


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"setting {name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    rate_limit_redis_url: str = DEFAULT_REDIS_URL
    port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    checkout_base_url: str = "http://127.0.0.1:8000"
    # Token bucket of the public share endpoint: `share_rate_capacity` requests, one back
    # every `share_rate_refill_seconds`.
    share_rate_capacity: int = 10
    share_rate_refill_seconds: int = 6
    # Pay attempts at the hosted checkout, per client IP (card testing): 6, one back every 60 s.
    pay_rate_capacity: int = 6
    pay_rate_refill_seconds: int = 60
    trusted_proxy_count: int = 0
    # Prefix for every Redis key this process writes (limiter and broker); tests set their own.
    redis_key_prefix: str = ""
    db_pool_size: int = 4
    # Where `paymentkit metrics serve` shows the Prometheus metrics: loopback only by default,
    # since the counts are business volumes (never on the public port).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9100
    # Threads per gunicorn worker that run complete requests (api/gunicorn_worker.py).
    web_threads: int = 4
    max_body_bytes: int = 1024 * 1024
    # Signs checkout tokens. Set SECRET_KEY in production; by default a random key is kept in
    # .data/secret_key so that every process of one installation shares it.
    secret_key: bytes = b""
    # Encrypts processor secrets at rest; SECRET_KEY when unset (changing it makes stored
    # processor keys unreadable: set them again).
    encryption_key: bytes = b""
    # The stripe processor: where its API calls go (None: Stripe's own API; tests point it at
    # localstripe), and the Stripe.js the hosted checkout loads (localstripe serves a fake one).
    stripe_api_base: str | None = None
    stripe_js_url: str = DEFAULT_STRIPE_JS_URL
    # Webhook deliveries to loopback, private and link-local addresses are refused unless this
    # is set (WEBHOOK_ALLOW_PRIVATE_URLS=1: a merchant's own network, and tests).
    webhook_allow_private_urls: bool = False
    # Receipts and notices by email (SPEC 9): smtp://[user:password@]host[:port] (smtps:// for TLS
    # from the start; smtp:// upgrades with STARTTLS when the server offers it). Unset: no emails.
    smtp_url: str = ""
    email_from: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        port = _int(env, "PORT", 8000)
        public = env.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}"
        redis_url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
        secret_key = _secret_key(env)
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=redis_url,
            rate_limit_redis_url=env.get("RATE_LIMIT_REDIS_URL") or redis_url,
            port=port,
            public_base_url=public.rstrip("/"),
            checkout_base_url=(env.get("CHECKOUT_BASE_URL") or public).rstrip("/"),
            share_rate_capacity=_int(env, "SHARE_RATE_CAPACITY", 10),
            share_rate_refill_seconds=_int(env, "SHARE_RATE_REFILL_SECONDS", 6),
            pay_rate_capacity=_int(env, "PAY_RATE_CAPACITY", 6),
            pay_rate_refill_seconds=_int(env, "PAY_RATE_REFILL_SECONDS", 60),
            trusted_proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", ""),
            db_pool_size=_int(env, "DB_POOL_SIZE", 4),
            web_threads=_int(env, "WEB_THREADS", 4),
            metrics_host=env.get("METRICS_HOST") or "127.0.0.1",
            metrics_port=_int(env, "METRICS_PORT", 9100),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024),
            secret_key=secret_key,
            encryption_key=env["ENCRYPTION_KEY"].encode() if env.get("ENCRYPTION_KEY") else secret_key,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            stripe_js_url=env.get("STRIPE_JS_URL") or DEFAULT_STRIPE_JS_URL,
            webhook_allow_private_urls=env.get("WEBHOOK_ALLOW_PRIVATE_URLS", "") == "1",
            smtp_url=env.get("SMTP_URL", ""),
            email_from=env.get("EMAIL_FROM") or f"receipts@{_host_of(public)}",
        )

    def outbox(self):
        """How this process writes events (domain/events.py): our URLs, and emails when SMTP is set."""
        from domain.events import Outbox
        from domain.views import Urls

        return Outbox(Urls(self.public_base_url, self.checkout_base_url), emails=bool(self.smtp_url))


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "localhost"


def _secret_key(env: dict[str, str]) -> bytes:
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"].encode()
    data_dir = Path(env.get("PAYMENTKIT_DATA_DIR") or Path(__file__).resolve().parent.parent / ".data")
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x") as made:  # "x": if two processes race, one writes, both read it
                made.write(secrets.token_urlsafe(32))
            path.chmod(0o600)
        except FileExistsError:
            pass
    return path.read_text().strip().encode()
