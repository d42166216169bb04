"""Products & Prices: enough catalog to build links from nothing (a product and its prices, a
package, a coupon), through the same domain services as the API."""
from __future__ import annotations

from api.dashboard import forms, labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, owned, page_query, pager, read_form, redirect, render
from domain import catalog
from domain.currencies import EXPONENTS
from domain.errors import InvalidRequest
from runtime.settings import Settings

PRODUCTS = f"{PREFIX}/products"
PACKAGES = f"{PREFIX}/packages"
COUPONS = f"{PREFIX}/coupons"
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "KWD")


class _CatalogPage:
    dashboard = True
    kind: str                      # the domain's catalog kind
    path: str
    template: str
    fields: set[str]

    def __init__(self, settings: Settings):
        self._settings = settings

    def context(self, req) -> dict:
        return {}

    def _page(self, req, resp, values=None, errors=None, status=200):
        query = page_query(req, {}, limit=25)
        try:
            found = catalog.page(req.context.uow, req.context.owner, self.kind, query)
        except InvalidRequest:
            return redirect(resp, self.path)
        render(req, resp, self.template, status=status, items=found.data, pages=pager(self.path, {}, found, query),
               values=values or self.defaults(), errors=errors or {}, csrf_token=csrf_token(req),
               currencies=COMMON_CURRENCIES, all_currencies=sorted(EXPONENTS), section="catalog",
               **self.context(req))

    def defaults(self) -> dict:
        return {}

    def on_get(self, req, resp) -> None:
        self._page(req, resp)

    def on_post(self, req, resp) -> None:
        form = read_form(req, self._settings.max_body_bytes)
        try:
            made = self.create(req, form)
        except InvalidRequest as error:
            return self._page(req, resp, form.values(), forms.errors_of(error, self.fields, forms.AMOUNT_FIELDS), 400)
        redirect(resp, self.after(made))

    def after(self, made) -> str:
        return self.path


class Products(_CatalogPage):
    kind, path, template, fields = "products", PRODUCTS, "products.html", forms.PRODUCT_FIELDS

    def create(self, req, form):
        return catalog.create_product(req.context.uow, req.context.owner, forms.product_command(form))

    def after(self, made) -> str:
        return f"{PRODUCTS}/{made.id}"


class ProductPage:
    """A product, its prices, and the form to add one."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, product, values=None, errors=None, status=200) -> None:
        prices = catalog.prices_of_product(req.context.uow, req.context.owner, product.id)
        render(req, resp, "product.html", status=status, product=product, prices=prices,
               values=values or {"currency": "USD", "type": "one_time", "interval": "month", "interval_count": "1"},
               errors=errors or {}, csrf_token=csrf_token(req), currencies=COMMON_CURRENCIES,
               all_currencies=sorted(EXPONENTS), intervals=catalog.INTERVALS, section="catalog")

    def on_get(self, req, resp, product_id: str) -> None:
        self._page(req, resp, owned(catalog.get, req, "products", product_id))

    def on_post(self, req, resp, product_id: str) -> None:
        product = owned(catalog.get, req, "products", product_id)
        form = read_form(req, self._settings.max_body_bytes)
        try:
            catalog.create_price(req.context.uow, req.context.owner, forms.price_command(form, product.id))
        except InvalidRequest as error:
            return self._page(req, resp, product, form.values(),
                              forms.errors_of(error, forms.PRICE_FIELDS, forms.AMOUNT_FIELDS), 400)
        redirect(resp, f"{PRODUCTS}/{product.id}")


class Packages(_CatalogPage):
    kind, path, template, fields = "packages", PACKAGES, "packages.html", forms.PACKAGE_FIELDS

    def context(self, req) -> dict:
        uow, owner = req.context.uow, req.context.owner
        return {"prices": labels.price_labels(uow, owner, active_only=True),
                "all_prices": labels.price_labels(uow, owner)}

    def create(self, req, form):
        return catalog.create_package(req.context.uow, req.context.owner, forms.package_command(form))


class Coupons(_CatalogPage):
    kind, path, template, fields = "coupons", COUPONS, "coupons.html", forms.COUPON_FIELDS

    def defaults(self) -> dict:
        return {"kind": "percent", "duration": "once", "currency": "USD"}

    def context(self, req) -> dict:
        return {"label": labels.coupon_label, "durations": catalog.COUPON_DURATIONS}

    def create(self, req, form):
        return catalog.create_coupon(req.context.uow, req.context.owner, forms.coupon_command(form))
