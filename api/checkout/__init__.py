"""The hosted checkout: the page a customer pays on (`/checkout/{token}`), and every page a
customer sees (a link that is not available, a refused request)."""
from __future__ import annotations

import falcon

from api.checkout.page import CheckoutPage
from runtime.settings import Settings


def add_routes(app: falcon.App, settings: Settings) -> None:
    page = CheckoutPage(settings)
    app.add_route("/checkout/{token}", page)
    for action in ("pay", "cancel", "quantities"):
        app.add_route(f"/checkout/{{token}}/{action}", page, suffix=action)
