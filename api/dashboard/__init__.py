"""The merchant dashboard under /dashboard: server-rendered pages over the same domain services
as the API, signed in with email and password, scoped to one account and the live/test switch."""
from __future__ import annotations

from api.dashboard import (account_settings, auth, catalog, checkout_sessions, customers, payment_links, payments,
                           processor_settings, subscriptions, webhooks)
from api.dashboard.web import PREFIX, STATIC, BadForm, Cookies, PageNotFound, handle_bad_form, handle_not_found, \
    redirect

STATIC_ROUTE = f"{PREFIX}/static"


class Home:
    dashboard = True

    def on_get(self, req, resp) -> None:
        redirect(resp, payment_links.LINKS)


def add_routes(app, settings, deps) -> None:
    app.add_middleware(auth.DashboardAuth(settings, Cookies(settings.secret_key, settings.trusted_proxy_count)))
    app.add_error_handler(PageNotFound, handle_not_found)
    app.add_error_handler(BadForm, handle_bad_form)
    app.add_static_route(STATIC_ROUTE, str(STATIC))
    app.add_route(PREFIX, Home())
    app.add_route(auth.SIGN_IN, auth.SignIn(settings, deps.redis))
    app.add_route(f"{PREFIX}/sign-out", auth.SignOut())
    app.add_route(f"{PREFIX}/mode", auth.Mode(settings))
    app.add_route(payment_links.LINKS, payment_links.LinkList())
    app.add_route(f"{payment_links.LINKS}/new", payment_links.LinkNew(settings))
    app.add_route(f"{payment_links.LINKS}/{{link_id}}", payment_links.LinkPage(settings))
    app.add_route(f"{payment_links.LINKS}/{{link_id}}/deactivate", payment_links.LinkDeactivate())
    app.add_route(f"{payment_links.LINKS}/{{link_id}}/reactivate", payment_links.LinkReactivate())
    app.add_route(f"{payment_links.LINKS}/{{link_id}}/edit", payment_links.LinkEdit(settings))
    app.add_route(checkout_sessions.SESSIONS, checkout_sessions.SessionList())
    app.add_route(f"{checkout_sessions.SESSIONS}/{{session_id}}", checkout_sessions.SessionPage())
    app.add_route(catalog.PRODUCTS, catalog.Products(settings))
    app.add_route(f"{catalog.PRODUCTS}/{{product_id}}", catalog.ProductPage(settings))
    app.add_route(f"{catalog.PRODUCTS}/{{product_id}}/edit", catalog.ProductEdit(settings))
    app.add_route(catalog.PACKAGES, catalog.Packages(settings))
    app.add_route(f"{catalog.PACKAGES}/{{object_id}}", catalog.PackagePage(settings))
    app.add_route(catalog.COUPONS, catalog.Coupons(settings))
    app.add_route(f"{catalog.COUPONS}/{{object_id}}", catalog.CouponPage(settings))
    app.add_route(f"{PREFIX}/archive/{{kind}}/{{object_id}}", catalog.Archive(settings))
    app.add_route(payments.PAYMENTS, payments.PaymentList())
    app.add_route(f"{payments.PAYMENTS}/{{payment_id}}", payments.PaymentPage(deps.processors))
    app.add_route(f"{payments.PAYMENTS}/{{payment_id}}/refund",
                  payments.PaymentRefund(settings, deps.processors, deps.units))
    app.add_route(customers.CUSTOMERS, customers.CustomerList())
    app.add_route(f"{customers.CUSTOMERS}/{{customer_id}}", customers.CustomerPage())
    subscriptions.add_routes(app, settings)
    app.add_route(processor_settings.SETTINGS, processor_settings.SettingsHome())
    app.add_route(processor_settings.PROCESSOR, processor_settings.ProcessorPage(settings, deps.processors))
    account_settings.add_routes(app, settings)
    app.add_route(webhooks.WEBHOOKS, webhooks.Endpoints(settings, deps.processors.box))
    app.add_route(f"{webhooks.WEBHOOKS}/{{endpoint_id}}", webhooks.EndpointPage(settings, deps.processors.box))
    app.add_route(webhooks.EVENTS, webhooks.EventList())
    app.add_route(f"{webhooks.EVENTS}/{{event_id}}", webhooks.EventPage(settings))
