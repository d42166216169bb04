"""Test clocks (SPEC 8, test mode only): create, retrieve, advance."""
from __future__ import annotations

from api import schemas, serializers
from api.http import read_json, respond
from api.openapi import Operation
from domain import test_clocks


class Collection:
    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def on_post(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.TestClockCreate, self.max_body_bytes)
        made = test_clocks.create(req.context.uow, req.context.owner,
                                  test_clocks.NewTestClock(frozen_time=body.frozen_time, name=body.name))
        respond(resp, serializers.test_clock(made))


class Item:
    def on_get(self, req, resp, account_id: str, clock_id: str) -> None:
        respond(resp, serializers.test_clock(test_clocks.get(req.context.uow, req.context.owner, clock_id)))


class Advance:
    """`POST .../advance`: the clock moves to `frozen_time` and reads `advancing` until the billing
    that fell due up to then has run (the `test_clocks.advance` job, sent once this commits)."""

    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def on_post(self, req, resp, account_id: str, clock_id: str) -> None:
        body = read_json(req, schemas.TestClockAdvance, self.max_body_bytes)
        clock = test_clocks.advance(req.context.uow, req.context.owner, clock_id, body.frozen_time)
        respond(resp, serializers.test_clock(clock))


def add_routes(app, max_body_bytes: int) -> list[Operation]:
    collection_path = "/api/{account_id}/test-clocks"
    item_path = f"{collection_path}/{{clock_id}}"
    advance_path = f"{item_path}/advance"
    app.add_route(collection_path, Collection(max_body_bytes))
    app.add_route(item_path, Item())
    app.add_route(advance_path, Advance(max_body_bytes))
    out = schemas.TestClockOut
    return [
        Operation("POST", collection_path, "create_test_clock", "test_clocks",
                  "Create a test clock (test mode only)", out, schemas.TestClockCreate),
        Operation("GET", item_path, "retrieve_test_clock", "test_clocks", "Retrieve a test clock", out),
        Operation("POST", advance_path, "advance_test_clock", "test_clocks",
                  "Advance a test clock: what falls due up to frozen_time runs, in order (409 "
                  "`test_clock_advancing` while a previous advance runs)", out, schemas.TestClockAdvance),
    ]
