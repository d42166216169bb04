"""The HTML kit of every page (hosted checkout and dashboard): one Jinja environment, one
`render`, one `time_left`, and one check that a form post comes from our own pages."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.checkout_sessions import effective_status
from domain.currencies import format_atoms

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def time_left(expires_at: datetime, now: datetime) -> str:
    """`2 d 23 h`, `23 h 58 min`, `12 min`, `less than a minute`; `—` once it has passed."""
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "—"
    if seconds < 60:
        return "less than a minute"
    days, minutes = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days >= 2:
        return f"{days} d {hours} h"
    hours += 24 * days
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
_env.filters["money"] = format_atoms
_env.filters["when"] = when
_env.globals["time_left"] = time_left
_env.globals["status_of"] = effective_status


def render(resp: falcon.Response, template: str, *, csp: str, status: int = 200, **context: Any) -> None:
    """A page: never cached, never framed, under the given Content-Security-Policy."""
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = _env.get_template(template).render(**context)
    resp.set_header("Content-Security-Policy", csp)
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("X-Frame-Options", "DENY")


def wants_html(req: falcon.Request) -> bool:
    """A browser: its Accept header prefers text/html to JSON. An API client's plain
    `application/json` is answered without parsing (the share path asks on every open)."""
    if req.get_header("Accept") == "application/json":
        return False
    return req.client_prefers(["application/json", "text/html"]) == "text/html"


def origin_of(url: str) -> str:
    """`https://Shop.example:443/x` -> `https://shop.example`: what a browser sends as `Origin`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def from_our_pages(req: falcon.Request, origins: set[str]) -> bool:
    """A form post from one of `origins`: by the browser's `Sec-Fetch-Site` when it sends one, and
    by `Origin` when present (older browsers send neither; a CSRF token or the checkout token
    in the URL still has to match)."""
    site = req.get_header("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = req.get_header("Origin")
    if origin is None or (origin == "null" and site == "same-origin"):
        return True
    return origin_of(origin) in origins
