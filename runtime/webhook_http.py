"""Outbound HTTP to merchants' webhook endpoints: hostile ground (ARCHITECTURE 7).

- The host is resolved once; if any address it resolves to is loopback, private, link-local
  or otherwise not public, the URL is refused (unless WEBHOOK_ALLOW_PRIVATE_URLS=1), so a
  merchant cannot point our workers at our own network or a cloud metadata service.
- The connection goes to the address checked, never to a second resolution (no DNS rebinding
  between the check and the connect): httpcore's network backend is replaced by one that
  connects to that address whatever the host. The URL is unchanged, so the Host header and
  TLS's SNI and certificate check name the merchant's host.
- 10 s in all, enforced on every socket operation (connect, TLS, each write and read) as the
  time left, so a server that drips bytes cannot hold a worker longer.
- Redirects are not followed (a 3xx is an answer like any other non-2xx); at most 2 KB of the
  answer is read and kept.

httpcore is httpx's own HTTP layer; it is used directly because its network backend is the one
place where the connect address and the deadline can be imposed for every byte.
"""
from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore

TIMEOUT_SECONDS = 10.0
READ_LIMIT = 2048


class Refused(Exception):
    """The URL may not be called (its address is not public, or it names no host)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def is_public(address: str) -> bool:
    """A globally routable unicast address (an IPv4-mapped IPv6 address is judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The one address to connect to: the first the host resolves to, once every address it
    resolves to has been checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as failure:
        raise Refused("dns_failure", f"{host} does not resolve ({failure})") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Refused("dns_failure", f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused("refused_address", f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise Refused("invalid_url", "the URL names no host")
    return parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80)


def refusal(url: str, allow_private: bool) -> str | None:
    """Why a merchant may not register `url` (an address that is not public), or None. A name
    that does not resolve now is let through: it is checked again at every delivery."""
    try:
        host, port = _host_port(url)
        resolve(host, port, allow_private)
    except Refused as refused:
        return None if refused.code == "dns_failure" else \
            "This URL points to a private, loopback or link-local address; webhooks go to public addresses only."
    except ValueError:
        return "This URL's port is not valid."
    return None


class _Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self, exc: type[Exception]) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise exc("the 10 s allowed for the attempt are over")
        return remaining


class _Stream(httpcore.NetworkStream):
    """A socket stream whose every operation gets only the time left of the attempt."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._deadline.left(httpcore.ConnectTimeout))
        return _Stream(inner, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked address, whatever host the URL names."""

    def __init__(self, address: str, deadline: _Deadline):
        self._address, self._deadline = address, deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(self._address, port, self._deadline.left(httpcore.ConnectTimeout),
                                         local_address, socket_options)
        return _Stream(stream, self._deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are sent over TCP only")


@dataclass(frozen=True)
class Answer:
    """What one POST came to. `status` None: no answer (`error` says why)."""

    status: int | None
    duration_ms: int
    body: str | None = None
    error: str | None = None
    retry_after: timedelta | None = None


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool,
         timeout: float = TIMEOUT_SECONDS, ssl_context: ssl.SSLContext | None = None) -> Answer:
    """POST `body` to `url` within `timeout` seconds in all; never raises for what the far end does."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        host, port = _host_port(url)
        address = resolve(host, port, allow_private)
    except Refused as refused:
        return Answer(None, elapsed(), error=refused.code)
    except ValueError:
        return Answer(None, elapsed(), error="invalid_url")
    deadline = _Deadline(timeout - (time.monotonic() - started))
    pool = httpcore.ConnectionPool(ssl_context=ssl_context, max_connections=1, retries=0,
                                   network_backend=_PinnedBackend(address, deadline))
    try:
        with pool, pool.stream("POST", url, headers=[*headers.items()], content=body) as response:
            kept = bytearray()
            try:
                for chunk in response.iter_stream():
                    kept += chunk
                    if len(kept) >= READ_LIMIT:
                        break
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError):
                pass  # the status came: it is the answer, with what of the body arrived in time
            answer_retry = retry_after(_header(response.headers, b"retry-after"), datetime.now(UTC))
            return Answer(response.status, elapsed(), bytes(kept[:READ_LIMIT]).decode("utf-8", "replace"),
                          retry_after=answer_retry)
    except httpcore.TimeoutException:
        return Answer(None, elapsed(), error="timeout")
    except httpcore.ConnectError as failure:
        return Answer(None, elapsed(), error="tls_failed" if isinstance(failure.__context__, ssl.SSLError)
                      or "SSL" in str(failure) or "certificate" in str(failure).lower() else "connection_failed")
    except (httpcore.NetworkError, httpcore.ProtocolError):
        return Answer(None, elapsed(), error="connection_failed")
    except httpcore.UnsupportedProtocol:
        return Answer(None, elapsed(), error="invalid_url")


def signed_headers(message_id: str, body: bytes, secrets: list[str], at: datetime) -> dict[str, str]:
    """Standard Webhooks headers: the id, the time, and a `v1,` signature per secret (space-separated)."""
    from standardwebhooks.webhooks import Webhook

    text = body.decode()
    signatures = " ".join(Webhook(secret).sign(message_id, at, text) for secret in secrets)
    return {"content-type": "application/json", "user-agent": "PaymentKit-Webhooks/1",
            "webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
