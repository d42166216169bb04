"""Products & Prices: the catalog links are built from (products and their prices, packages,
coupons): create, edit what may change (names, never a price's amount), archive and restore,
through the same domain services as the API."""
from __future__ import annotations

from api.dashboard import forms, labels
from api.dashboard.auth import csrf_token
from api.dashboard.web import PREFIX, PageNotFound, owned, page_query, pager, read_form, redirect, render
from domain import catalog
from domain.currencies import EXPONENTS
from domain.db import utcnow
from domain.errors import Checks, InvalidRequest
from runtime.settings import Settings

PRODUCTS = f"{PREFIX}/products"
PRICES = f"{PREFIX}/prices"
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
            return self._page(req, resp, form.values(), catalog_errors(req, error, self.fields), 400)
        redirect(resp, self.after(made))

    def after(self, made) -> str:
        return self.path


def catalog_errors(req, error: InvalidRequest, fields: set[str]) -> dict[str, str]:
    """A refused catalog form in the merchant's words (amounts as typed, names for ids)."""
    names = labels.names_for(req.context.uow, req.context.owner, forms.ids_in(error))
    return forms.errors_of(error, fields, forms.AMOUNT_FIELDS, forms.CATALOG_LABELS, names)


class Products(_CatalogPage):
    kind, path, template, fields = "products", PRODUCTS, "products.html", forms.PRODUCT_FIELDS

    def context(self, req) -> dict:
        return {"prices_of": catalog.prices_of_products(req.context.uow, req.context.owner),
                "price_amount": labels.price_amount}

    def create(self, req, form):
        return catalog.create_product(req.context.uow, req.context.owner, forms.product_command(form))

    def after(self, made) -> str:
        return f"{PRODUCTS}/{made.id}"


class ProductPage:
    """A product, its prices, and the form to add one."""

    dashboard = True

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, product, values=None, errors=None, status=200, edit_values=None,
              edit_errors=None) -> None:
        prices = catalog.prices_of_product(req.context.uow, req.context.owner, product.id)
        render(req, resp, "product.html", status=status, product=product, prices=prices,
               values=values or {"currency": "USD", "type": "one_time", "interval": "month", "interval_count": "1"},
               errors=errors or {}, edit_values=edit_values or {"name": product.name,
                                                                "description": product.description or ""},
               edit_errors=edit_errors or {}, csrf_token=csrf_token(req), currencies=COMMON_CURRENCIES,
               all_currencies=sorted(EXPONENTS), intervals=catalog.INTERVALS, every=labels.every,
               section="catalog")

    def on_get(self, req, resp, product_id: str) -> None:
        self._page(req, resp, owned(catalog.get, req, "products", product_id))

    def on_post(self, req, resp, product_id: str) -> None:
        """Add a price."""
        product = owned(catalog.get, req, "products", product_id)
        form = read_form(req, self._settings.max_body_bytes)
        uow, owner, checks = req.context.uow, req.context.owner, Checks()
        cmd = forms.price_command(form, product.id, checks)
        try:
            forms.submit(checks, lambda: catalog.validate_price_fields(cmd),
                         lambda: catalog.create_price(uow, owner, cmd))
        except InvalidRequest as error:
            return self._page(req, resp, product, form.values(), catalog_errors(req, error, forms.PRICE_FIELDS), 400)
        redirect(resp, f"{PRODUCTS}/{product.id}")


class ProductEdit(ProductPage):
    """Rename a product or change its description (its prices' amounts never change)."""

    def on_get(self, req, resp, product_id: str) -> None:
        redirect(resp, f"{PRODUCTS}/{product_id}")

    def on_post(self, req, resp, product_id: str) -> None:
        product = owned(catalog.get, req, "products", product_id)
        form = read_form(req, self._settings.max_body_bytes)
        try:
            catalog.update(req.context.uow, req.context.owner, "products", product.id, forms.product_changes(form))
        except InvalidRequest as error:
            return self._page(req, resp, product, edit_values=form.values(), status=400,
                              edit_errors=catalog_errors(req, error, forms.PRODUCT_FIELDS))
        redirect(resp, f"{PRODUCTS}/{product.id}")


class NamedPage:
    """A package's or a coupon's page: what it is, and a form to rename it."""

    dashboard = True
    kind: str
    path: str
    template: str

    def __init__(self, settings: Settings):
        self._settings = settings

    def _page(self, req, resp, obj, values=None, errors=None, status=200) -> None:
        uow, owner = req.context.uow, req.context.owner
        extra = ({"prices": labels.price_labels(uow, owner, obj.price_ids)} if self.kind == "packages"
                 else {"label": labels.coupon_label})
        render(req, resp, self.template, status=status, item=obj, values=values or {"name": obj.name},
               errors=errors or {}, csrf_token=csrf_token(req), section="catalog", **extra)

    def on_get(self, req, resp, object_id: str) -> None:
        self._page(req, resp, owned(catalog.get, req, self.kind, object_id))

    def on_post(self, req, resp, object_id: str) -> None:
        obj = owned(catalog.get, req, self.kind, object_id)
        form = read_form(req, self._settings.max_body_bytes)
        try:
            catalog.update(req.context.uow, req.context.owner, self.kind, obj.id, {"name": form.get("name")})
        except InvalidRequest as error:
            return self._page(req, resp, obj, form.values(), catalog_errors(req, error, {"name"}), 400)
        redirect(resp, f"{self.path}/{obj.id}")


class PackagePage(NamedPage):
    kind, path, template = "packages", PACKAGES, "package.html"


class CouponPage(NamedPage):
    kind, path, template = "coupons", COUPONS, "coupon.html"


class Archive:
    """Archive (or restore) a product, price, package or coupon: `active` false (or true), as the
    API's PATCH. Links that sell an archived price or package stop selling; sessions made stay."""

    dashboard = True
    PATHS = {"products": PRODUCTS, "packages": PACKAGES, "coupons": COUPONS}

    def __init__(self, settings: Settings):
        self._settings = settings

    def on_post(self, req, resp, kind: str, object_id: str) -> None:
        if kind not in catalog.ACTIVATABLE:
            raise PageNotFound()
        owned(catalog.get, req, kind, object_id)
        form = read_form(req, self._settings.max_body_bytes)
        changed = catalog.set_active(req.context.uow, req.context.owner, kind, object_id, form.get("active") == "true")
        if kind == "prices":
            return redirect(resp, f"{PRODUCTS}/{changed.product_id}")
        redirect(resp, f"{self.PATHS[kind]}/{object_id}")


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
        uow, owner, checks = req.context.uow, req.context.owner, Checks()
        cmd = forms.coupon_command(form, checks)
        return forms.submit(checks, lambda: catalog.validate_coupon_fields(cmd, utcnow()),
                            lambda: catalog.create_coupon(uow, owner, cmd))
