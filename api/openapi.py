"""The OpenAPI 3.1 document, built from the operations each resource declares and the msgspec
shapes they read and write (so the document cannot drift from the validation).

Each operation names itself (`operation_id`, what a generated client calls it) and its resource
(`tag`, the module a generated client puts it in). Beside the shapes' own types the document says
the rules between fields (`schemas.RULES`) and that no string of a request holds NUL (PostgreSQL
refuses it: api/http.py answers 400)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from api import schemas
from api.http import bool_param, int_param, one_of, str_param, time_param
from api.schemas import REF, ErrorOut

NO_NUL = r"^[^\x00]*$"
TAGS = {
    "products": "Products: what is sold", "prices": "Prices of products", "packages": "Bundles of prices",
    "coupons": "Discounts", "customers": "Customers", "payment_links": "Payment links: create, list, change",
    "checkout_sessions": "Checkout sessions made from payment links", "share": "The public share URL",
    "payments": "Payments taken at checkout", "refunds": "Money given back on a payment",
    "payment_methods": "Cards saved to customers", "account": "What customers see of the merchant",
    "api_keys": "The account's API keys: list, add (shown once), revoke",
    "processor": "The processor that takes each mode's payments",
    "health": "Liveness and readiness for load balancers",
    "subscriptions": "Subscriptions: recurring billing started at checkout", "invoices": "What each period costs",
    "test_clocks": "Test clocks: watch months of billing in seconds (test mode)",
    "events": "Events: what happened, kept 30 days", "webhook_endpoints": "Webhook endpoints and their deliveries",
}


@dataclass(frozen=True)
class QueryParam:
    """One query parameter, declared once: how the API reads it (`read`, a converter of
    api/http.py) and what the document says it takes (`schema`). An operation's `query` is both
    what it documents and, through `readers`, what it parses."""
    name: str
    schema: dict[str, Any]
    read: Callable[[str, str], Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str  # what a client author would call it: `create_payment_link`
    tag: str           # its resource (a key of TAGS): a generated client's module
    summary: str
    response: type | None = None
    request: type | None = None
    query: tuple[QueryParam, ...] = ()
    public: bool = False
    status: int = 200
    extra_responses: dict[int, str] = field(default_factory=dict)


# What `api.http.str_param` accepts.
ID_QUERY = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NO_NUL}
# What `api.http.time_param` accepts.
TIME_QUERY = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "pattern": "^[0-9]{1,11}$"}]}


def id_query(name: str, description: str) -> QueryParam:
    return QueryParam(name, ID_QUERY, str_param, description)


def enum_query(name: str, choices: tuple[str, ...], description: str = "") -> QueryParam:
    return QueryParam(name, {"enum": list(choices)}, one_of(*choices), description)


def time_query(name: str, description: str) -> QueryParam:
    return QueryParam(name, TIME_QUERY, time_param, description)


def bool_query(name: str, description: str = "") -> QueryParam:
    return QueryParam(name, {"type": "boolean"}, bool_param, description)


def readers(query: tuple[QueryParam, ...]) -> dict[str, Callable[[str, str], Any]]:
    """What `api.http.parse_query` takes: each declared parameter's converter, and no other."""
    return {param.name: param.read for param in query}


_CURSOR = ("; an id that names no object of this list is a 400 `resource_missing` naming this parameter. "
           "Give starting_after or ending_before, not both (400 `parameters_exclusive`)")
PAGE_QUERY = (
    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}, int_param),
    id_query("starting_after", "id of the object after which the page starts (older ones)" + _CURSOR),
    id_query("ending_before", "id of the object before which the page ends (newer ones)" + _CURSOR),
)
PAGE_PARAMS = readers(PAGE_QUERY)


def document(operations: list[Operation], title: str = "PaymentKit payment links") -> dict[str, Any]:
    shapes = {op.request for op in operations if op.request} | {op.response for op in operations if op.response}
    shapes.add(ErrorOut)
    _, components = msgspec.json.schema_components(sorted(shapes, key=lambda s: s.__name__), ref_template=REF)
    for shape, rules in schemas.RULES.items():
        if shape.__name__ in components:
            components[shape.__name__].update(rules)
    for name, component in components.items():
        if issubclass(getattr(schemas, name, object), schemas.Request):
            _no_nul(component)
    components.update(schemas.metadata_value_components())
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    used = {op.tag for op in operations}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "tags": [{"name": tag, "description": description} for tag, description in TAGS.items() if tag in used],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "sk_live_... or sk_test_..."}},
        },
    }


def _ref(shape: type) -> dict[str, str]:
    return {"$ref": REF.format(name=shape.__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _path_params(op.path)]
    parameters += [{"name": q.name, "in": "query", "required": False, "schema": q.schema,
                    **({"description": q.description} if q.description else {})} for q in op.query]
    error = {"content": {"application/json": {"schema": _ref(ErrorOut)}}}
    responses: dict[str, Any] = {}
    if op.response is not None:
        responses[str(op.status)] = {"description": "OK", "content": {"application/json": {"schema": _ref(op.response)}}}
    else:
        responses[str(op.status)] = {"description": "OK"}
    for status, description in op.extra_responses.items():
        responses[str(status)] = {"description": description}
    for status, description in ({400: "Invalid request", 404: "Not found", 429: "Rate limited"} if op.public else
                                {400: "Invalid request", 401: "Missing or wrong API key", 404: "Not found",
                                 409: "Conflict", 413: "Body too large", 415: "Not JSON"}).items():
        responses.setdefault(str(status), {"description": description, **error})
    body: dict[str, Any] = {"summary": op.summary, "operationId": op.operation_id, "tags": [op.tag],
                            "parameters": parameters, "responses": responses}
    if op.request is not None:
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.request)}}}
    if not op.public:
        body["security"] = [{"apiKey": []}]
    return body


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _no_nul(schema: Any) -> None:
    """Every string of a request shape without a pattern or an enum of its own gets NO_NUL (each
    pattern of schemas.py leaves NUL out itself)."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and "pattern" not in schema and "enum" not in schema:
            schema["pattern"] = NO_NUL
        for value in schema.values():
            _no_nul(value)
    elif isinstance(schema, list):
        for value in schema:
            _no_nul(value)


class OpenApiResource:
    public = True

    def __init__(self, operations: list[Operation]):
        self._body = msgspec.json.encode(document(operations))

    def on_get(self, req, resp) -> None:
        resp.content_type = "application/json"
        resp.data = self._body
