"""How every customer-facing page is served: the templates under templates/checkout/, under a
CSP that loads nothing from elsewhere."""
from __future__ import annotations

import falcon

from api import html

# The hosted pages load nothing from elsewhere and may not be framed.
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' http: https:; "
            "frame-ancestors 'none'; base-uri 'none'")


def render(resp: falcon.Response, template: str, status: int = 200, **context) -> None:
    html.render(resp, f"checkout/{template}", csp=PAGE_CSP, status=status, **context)


def not_available(resp: falcon.Response) -> None:
    """One page for a link or checkout that is unknown, inactive or unsellable: nothing tells them apart."""
    render(resp, "link_unavailable.html", status=404)
