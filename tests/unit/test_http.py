"""Reading requests (api/http.py): bodies, msgspec errors turned into params, query strings."""
from datetime import UTC, datetime
from typing import Annotated

import falcon
import msgspec
import pytest
from falcon import testing

from api.errors import ApiError
from api.http import (bool_param, describe_validation_error, int_param, one_of, parse_query, raw_body, read_json,
                      respond, str_param, time_param)


class Item(msgspec.Struct, forbid_unknown_fields=True):
    price_id: str
    quantity: Annotated[int, msgspec.Meta(ge=1, le=999)] = 1


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    line_items: list[Item] = []
    metadata: dict[str, str] = {}


def message_of(shape, data: bytes) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(data, type=shape)
    return str(caught.value)


@pytest.mark.parametrize("data, param, starts", [
    (b'{"name": "x", "colour": 1}', "colour", "Received unknown parameter: colour"),
    (b'{"name": "x", "line_items": [{"price_id": "p"}, {"price_id": "p", "qty": 2}]}', "line_items[1].qty",
     "Received unknown parameter: line_items[1].qty"),
    (b'{"line_items": []}', "name", "Missing required parameter: name"),
    (b'{"name": "x", "line_items": [{"quantity": 2}]}', "line_items[0].price_id",
     "Missing required parameter: line_items[0].price_id"),
    (b'{"name": "x", "line_items": [{"price_id": "p", "quantity": 0}]}', "line_items[0].quantity",
     "Invalid line_items[0].quantity: Expected `int` >= 1"),
    (b'{"name": "x", "line_items": [{"price_id": "p", "quantity": 2.5}]}', "line_items[0].quantity",
     "Invalid line_items[0].quantity: Expected `int`, got `float`"),
    (b'{"name": 5}', "name", "Invalid name: Expected `str`, got `int`"),
    (b'{"name": "x", "metadata": {"k": 1}}', "metadata", "Invalid metadata: Expected `str`, got `int`"),
    (b'[1, 2]', None, "Invalid request body: Expected `object`, got `array`"),
])
def test_describe_validation_error(data, param, starts):
    message, named = describe_validation_error(message_of(Body, data))
    assert named == param
    assert message.startswith(starts), message


def request(body: bytes = b"", content_type: str | None = "application/json", *, query: str = "") -> falcon.Request:
    headers = {"Content-Type": content_type} if content_type else {}
    env = testing.create_environ(method="POST", body=body, headers=headers, query_string=query)
    return falcon.Request(env, falcon.RequestOptions())


def api_error(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


class TestBody:
    def test_decodes_into_the_shape(self):
        body = read_json(request(b'{"name": "Mug", "line_items": [{"price_id": "p"}]}'), Body, 100)
        assert body == Body(name="Mug", line_items=[Item("p", 1)])

    def test_content_type_with_charset(self):
        assert read_json(request(b'{"name": "x"}', "application/json; charset=utf-8"), Body, 100).name == "x"

    @pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                              "application/jsonp"])
    def test_not_json_is_415(self, content_type):
        assert api_error(read_json, request(b'{"name": "x"}', content_type), Body, 100).status == 415

    @pytest.mark.parametrize("data", [b"", b"{", b'{"name": "x",}', b"{'name': 'x'}", b'{"name": "\\ud800"}',
                                      b'{"name": "caf\xe9"}', b'{"n\xffme": "x"}', b"\xff\xfe{}"])
    def test_malformed_or_not_utf8_is_invalid_json(self, data):
        error = api_error(read_json, request(data), Body, 100)
        assert (error.status, error.code, error.param) == (400, "invalid_json", None)

    def test_validation_error_names_the_param(self):
        error = api_error(read_json, request(b'{"name": "x", "extra": true}'), Body, 100)
        assert (error.status, error.code, error.param) == (400, "parameter_invalid", "extra")

    def test_over_the_limit_is_413(self):
        assert api_error(raw_body, request(b"x" * 101), 100).status == 413
        assert raw_body(request(b"x" * 100), 100) == b"x" * 100

    def test_declared_length_over_the_limit_is_413_before_reading(self):
        req = request(b"x" * 10)
        req.env["CONTENT_LENGTH"] = str(10**9)
        assert api_error(raw_body, req, 100).status == 413
        assert req.env["wsgi.input"].read() == b"x" * 10

    def test_body_is_read_once_and_kept(self):
        req = request(b'{"name": "x"}')
        assert raw_body(req, 100) == raw_body(req, 100) == b'{"name": "x"}'
        assert read_json(req, Body, 100).name == "x"


def test_respond_writes_json():
    resp = falcon.Response()
    respond(resp, {"when": datetime(2026, 6, 17, 14, 0, tzinfo=UTC), "n": 1}, 201)
    assert resp.status == 201
    assert resp.content_type == falcon.MEDIA_JSON
    assert resp.data == b'{"when":"2026-06-17T14:00:00Z","n":1}'


class TestQuery:
    ALLOWED = {"limit": int_param, "active": bool_param, "after": str_param, "mode": one_of("payment", "setup"),
               "since": time_param}

    def parse(self, query: str):
        return parse_query(request(query=query), self.ALLOWED)

    def test_converts_known_params(self):
        assert self.parse("limit=5&active=true&after=prod_x&mode=setup&since=1700000000") == {
            "limit": 5, "active": True, "after": "prod_x", "mode": "setup",
            "since": datetime.fromtimestamp(1700000000, UTC)}

    def test_unknown_param(self):
        error = api_error(self.parse, "limit=5&colour=red")
        assert (error.status, error.code, error.param) == (400, "parameter_unknown", "colour")

    def test_repeated_param(self):
        assert api_error(self.parse, "limit=5&limit=6").param == "limit"

    @pytest.mark.parametrize("query, param", [("limit=abc", "limit"), ("limit=1.5", "limit"), ("limit=1e3", "limit"),
                                              ("limit=" + "9" * 13, "limit"), ("active=1", "active"),
                                              ("active=True", "active"), ("mode=subscription", "mode"),
                                              ("after=" + "a" * 256, "after"), ("since=yesterday", "since"),
                                              ("since=2026-06-17T14:00:00", "since")])
    def test_bad_values_name_the_param(self, query, param):
        error = api_error(self.parse, query)
        assert (error.status, error.param) == (400, param)

    def test_negative_int_is_parsed_for_the_domain_to_judge(self):
        assert int_param("-1", "limit") == -1

    @pytest.mark.parametrize("raw", ["2026-06-17T14:00:00Z", "2026-06-17T16:00:00+02:00", "1781704800"])
    def test_times(self, raw):
        assert time_param(raw, "created[gte]") == datetime(2026, 6, 17, 14, 0, tzinfo=UTC)
