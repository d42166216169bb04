"""The OpenAPI 3.1 document, built from the operations each resource declares and the msgspec
shapes they read and write (so the document cannot drift from the validation)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from api.schemas import ErrorOut

REF = "#/components/schemas/{name}"


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    response: type | None = None
    request: type | None = None
    query: tuple[QueryParam, ...] = ()
    public: bool = False
    status: int = 200
    extra_responses: dict[int, str] = field(default_factory=dict)


# What `api.http.str_param` accepts.
ID_QUERY = {"type": "string", "minLength": 1, "maxLength": 255}
PAGE_QUERY = (
    QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
    QueryParam("starting_after", ID_QUERY, "id of the object after which the page starts"),
    QueryParam("ending_before", ID_QUERY, "id of the object before which the page ends"),
)


def document(operations: list[Operation], title: str = "PaymentKit payment links") -> dict[str, Any]:
    shapes = {op.request for op in operations if op.request} | {op.response for op in operations if op.response}
    shapes.add(ErrorOut)
    _, components = msgspec.json.schema_components(sorted(shapes, key=lambda s: s.__name__), ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
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
    body: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op), "parameters": parameters,
                            "responses": responses}
    if op.request is not None:
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(op.request)}}}
    if not op.public:
        body["security"] = [{"apiKey": []}]
    return body


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operation_id(op: Operation) -> str:
    words = [p for p in op.path.split("/") if p and not p.startswith("{") and p != "api"]
    return op.method.lower() + "_" + "_".join(w.replace("-", "_") for w in words) + ("_item" if op.path.endswith("}") else "")


class OpenApiResource:
    public = True

    def __init__(self, operations: list[Operation]):
        self._body = msgspec.json.encode(document(operations))

    def on_get(self, req, resp) -> None:
        resp.content_type = "application/json"
        resp.data = self._body
