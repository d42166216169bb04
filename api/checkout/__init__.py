"""The hosted checkout: the page a customer pays on (`/checkout/{token}`), and every page a
customer sees (a link that is not available, a refused request)."""
from __future__ import annotations

import falcon

from api import html
from api.checkout.challenge import TestChallenge
from api.checkout.page import CheckoutPage
from api.checkout.pages import STATIC_ROUTE
from api.ratelimit import RateLimiter
from runtime.settings import Settings


def add_routes(app: falcon.App, settings: Settings, deps) -> None:
    page = CheckoutPage(settings, deps.processors, deps.units,
                        RateLimiter(deps.redis, settings.pay_rate_capacity, settings.pay_rate_refill_seconds,
                                    settings.redis_key_prefix, scope="pay"))
    app.add_static_route(STATIC_ROUTE, str(html.STATIC))
    app.add_route("/checkout/{token}", page)
    for action in ("pay", "cancel", "quantities", "return"):
        app.add_route(f"/checkout/{{token}}/{action}", page, suffix=action)
    app.add_route("/checkout/challenge/{challenge_id}", TestChallenge(deps.processors))
