"""How every customer-facing page is served: the templates under templates/checkout/, under a
CSP that loads nothing from elsewhere."""
from __future__ import annotations

import falcon

from api import html

# The hosted pages load nothing from elsewhere and may not be framed. `form-action` names exactly
# where a page's forms may take the browser: nowhere, unless the page says (the checkout page: its
# own origin, and the origins of the success and return URLs its Pay and Cancel redirect to,
# since browsers check a form's redirects against form-action too).
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action {form_action}; "
            "frame-ancestors 'none'; base-uri 'none'")


def render(resp: falcon.Response, template: str, status: int = 200, form_origins: tuple[str, ...] = (),
           **context) -> None:
    csp = PAGE_CSP.format(form_action=" ".join(form_origins) or "'none'")
    html.render(resp, f"checkout/{template}", csp=csp, status=status, **context)


def not_available(resp: falcon.Response) -> None:
    """One page for a link or checkout that is unknown, inactive or unsellable: nothing tells them apart."""
    render(resp, "link_unavailable.html", status=404)
