"""Products, prices, packages, coupons and customers: create, list, retrieve, (de)activate.

The five nouns behave alike, so one pair of resources serves them, each configured by a Noun.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from api import schemas, serializers
from api.http import page_query, parse_query, read_json, respond
from api.openapi import PAGE_PARAMS, PAGE_QUERY, Operation
from domain import catalog


@dataclass(frozen=True)
class Noun:
    path: str                      # "products": also the domain's catalog kind
    create_shape: type
    to_command: Callable[[Any], Any]
    create: Callable[..., Any]
    view: Callable[[Any], Any]
    out: type
    update_shape: type = schemas.ActiveUpdate

    @property
    def has_active(self) -> bool:
        return self.path in catalog.ACTIVATABLE


def _plain(body: msgspec.Struct) -> dict[str, Any]:
    return msgspec.structs.asdict(body)


def _coupon_command(body: schemas.CouponCreate) -> catalog.NewCoupon:
    fields = _plain(body)
    if fields["percent_off"] is not None:
        # JSON numbers arrive as floats; their shortest repr is the decimal the client wrote.
        fields["percent_off"] = Decimal(repr(fields["percent_off"]))
    return catalog.NewCoupon(**fields)


NOUNS = [
    Noun("products", schemas.ProductCreate, lambda b: catalog.NewProduct(**_plain(b)),
         catalog.create_product, serializers.product, schemas.ProductOut, schemas.ProductUpdate),
    Noun("prices", schemas.PriceCreate, lambda b: catalog.NewPrice(**_plain(b)),
         catalog.create_price, serializers.price, schemas.PriceOut),
    Noun("packages", schemas.PackageCreate, lambda b: catalog.NewPackage(**_plain(b)),
         catalog.create_package, serializers.package, schemas.PackageOut, schemas.NamedUpdate),
    Noun("coupons", schemas.CouponCreate, _coupon_command,
         catalog.create_coupon, serializers.coupon, schemas.CouponOut, schemas.NamedUpdate),
    Noun("customers", schemas.CustomerCreate, lambda b: catalog.NewCustomer(**_plain(b)),
         catalog.create_customer, serializers.customer, schemas.CustomerOut),
]


class Collection:
    def __init__(self, noun: Noun, max_body_bytes: int):
        self.noun = noun
        self.max_body_bytes = max_body_bytes
        self.list_shape = schemas.list_of(noun.out)

    def on_post(self, req, resp, account_id: str) -> None:
        body = read_json(req, self.noun.create_shape, self.max_body_bytes)
        created = self.noun.create(req.context.uow, req.context.owner, self.noun.to_command(body))
        respond(resp, self.noun.view(created))

    def on_get(self, req, resp, account_id: str) -> None:
        found = catalog.page(req.context.uow, req.context.owner, self.noun.path, page_query(parse_query(req, PAGE_PARAMS)))
        respond(resp, self.list_shape(data=[self.noun.view(o) for o in found.data], has_more=found.has_more))


class Item:
    def __init__(self, noun: Noun, max_body_bytes: int):
        self.noun = noun
        self.max_body_bytes = max_body_bytes

    def on_get(self, req, resp, account_id: str, object_id: str) -> None:
        found = catalog.get(req.context.uow, req.context.owner, self.noun.path, object_id)
        respond(resp, self.noun.view(found))



class ActivatableItem(Item):
    """An object with `active`: `PATCH {"active": false}` archives it; products, packages and
    coupons may also change their names (catalog.EDITABLE)."""

    def on_patch(self, req, resp, account_id: str, object_id: str) -> None:
        body = read_json(req, self.noun.update_shape, self.max_body_bytes)
        given = {name: value for name, value in _plain(body).items() if value is not msgspec.UNSET}
        changed = catalog.update(req.context.uow, req.context.owner, self.noun.path, object_id, given)
        respond(resp, self.noun.view(changed))


def add_routes(app, max_body_bytes: int) -> list[Operation]:
    operations = []
    for noun in NOUNS:
        collection_path = f"/api/{{account_id}}/{noun.path}"
        item_path = f"{collection_path}/{{object_id}}"
        app.add_route(collection_path, Collection(noun, max_body_bytes))
        app.add_route(item_path, (ActivatableItem if noun.has_active else Item)(noun, max_body_bytes))
        singular, tag = noun.path[:-1], noun.path
        operations += [
            Operation("POST", collection_path, f"create_{singular}", tag, f"Create a {singular}", noun.out,
                      noun.create_shape),
            Operation("GET", collection_path, f"list_{noun.path}", tag, f"List {noun.path}, newest first",
                      schemas.list_of(noun.out), query=PAGE_QUERY),
            Operation("GET", item_path, f"retrieve_{singular}", tag, f"Retrieve a {singular}", noun.out),
        ]
        if noun.has_active:
            operations.append(Operation("PATCH", item_path, f"update_{singular}", tag,
                                        f"Change a {singular}" if noun.update_shape is not schemas.ActiveUpdate
                                        else f"Activate or deactivate a {singular}", noun.out, noun.update_shape))
    return operations
