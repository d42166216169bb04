"""Server-rendered HTML for the customer-facing pages (Jinja2, autoescaped)."""
from __future__ import annotations

from pathlib import Path

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.currencies import format_atoms

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
_env.filters["money"] = format_atoms

# The hosted pages load nothing from elsewhere and may not be framed. `form-action` names exactly
# where a page's forms may take the browser: nowhere, unless the page says (the checkout page: its
# own origin, and the origins of the success and return URLs its Pay and Cancel redirect to,
# since browsers check a form's redirects against form-action too).
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action {form_action}; "
            "frame-ancestors 'none'; base-uri 'none'")


def render(resp: falcon.Response, template: str, status: int = 200, form_origins: tuple[str, ...] = (),
           **context) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = _env.get_template(template).render(**context)
    resp.set_header("Content-Security-Policy", PAGE_CSP.format(form_action=" ".join(form_origins) or "'none'"))
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("X-Frame-Options", "DENY")


def wants_html(req: falcon.Request) -> bool:
    """A browser: its Accept header prefers text/html to JSON."""
    return req.client_prefers(["application/json", "text/html"]) == "text/html"
