"""The client address a request is rate limited by."""
from __future__ import annotations

import ipaddress
import socket

IPV6_BUCKET_PREFIX = 64


def client_ip(req, trusted_proxy_count: int) -> str:
    """The client's address, as the key to rate limit it by.

    Without trusted proxies it is the peer (`req.remote_addr`) and `X-Forwarded-For` is
    ignored, since anyone can send it. Behind N trusted proxies it is the N-th entry from the
    right of `X-Forwarded-For`: each proxy appends the peer it saw, so that entry is the one
    the outermost trusted proxy wrote; anything left of it is whatever the client sent. A
    missing, short or unparseable header falls back to the peer.

    IPv4 addresses (also IPv4-mapped IPv6 ones) come back as they are. IPv6 addresses come
    back as their /64 network (`2001:db8:1:2::/64`): one host is usually handed a whole /64
    and can rotate through it at will, so limiting per address would not limit it at all.
    """
    if trusted_proxy_count > 0:
        forwarded = req.get_header("X-Forwarded-For") or ""
        entries = forwarded.split(",") if forwarded.strip() else []
        if len(entries) >= trusted_proxy_count:
            vouched = _parse(entries[-trusted_proxy_count])
            if vouched is not None:
                return _bucket(vouched)
    peer = _parse(req.remote_addr or "")
    return _bucket(peer) if peer is not None else (req.remote_addr or "")


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str | None:
    text = text.strip()
    try:  # the common case in C: a dotted-quad IPv4 address, in its canonical form
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except OSError:
        pass
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bucket(address: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> str:
    if isinstance(address, (str, ipaddress.IPv4Address)):
        return str(address)
    return str(ipaddress.IPv6Network((int(address), IPV6_BUCKET_PREFIX), strict=False))
