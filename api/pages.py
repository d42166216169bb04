"""Server-rendered HTML for the customer-facing pages (Jinja2, autoescaped)."""
from __future__ import annotations

from pathlib import Path

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.currencies import format_atoms

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_env.filters["money"] = format_atoms

# The hosted pages load nothing from elsewhere and may not be framed.
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' http: https:; "
            "frame-ancestors 'none'; base-uri 'none'")


def render(resp: falcon.Response, template: str, status: int = 200, **context) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = _env.get_template(template).render(**context)
    resp.set_header("Content-Security-Policy", PAGE_CSP)
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("X-Frame-Options", "DENY")


def wants_html(req: falcon.Request) -> bool:
    """A browser: its Accept header prefers text/html to JSON."""
    return req.client_prefers(["application/json", "text/html"]) == "text/html"
