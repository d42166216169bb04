"""Shared by the hostile-input tests: the error shape of SPEC section 5 and a valid link body."""
from __future__ import annotations

import json

import pytest


def assert_error(result, status: int, code: str | None = None, param=...) -> dict:
    """Exactly `{"error": {"type", "code", "message", "param"}}` as JSON, with the given status
    (and, when several fields were wrong at once, `errors`: each `{code, message, param}`, the
    first being the one the other fields describe)."""
    assert result.status_code == status, (result.status, result.text[:500])
    assert result.headers["content-type"].startswith("application/json")
    body = json.loads(result.text)
    assert list(body) == ["error"] and set(body["error"]) - {"errors"} == {"type", "code", "message", "param"}
    error = body["error"]
    if "errors" in error:
        assert len(error["errors"]) > 1 and all(set(e) == {"code", "message", "param"} for e in error["errors"])
        assert {k: error["errors"][0][k] for k in ("code", "message", "param")} == \
            {k: error[k] for k in ("code", "message", "param")}
    assert all(isinstance(error[k], str) and error[k] for k in ("type", "code", "message"))
    if code is not None:
        assert error["code"] == code, error
    if param is not ...:
        assert error["param"] == param, error
    return error


@pytest.fixture
def link_body(merchant) -> dict:
    price = merchant.price(1000, "USD")
    return {"name": "Mug", "line_items": [{"price_id": price["id"], "quantity": 1}]}


class FuzzMerchant:
    """One account for a whole fuzz run, made once (Hypothesis calls the test many times)."""

    def __init__(self, account_id: str, api_key: str):
        self.account_id = account_id
        self.api_key = api_key
        self._clients = iter(range(1, 1 << 32))

    def next_ip(self) -> str:
        n = next(self._clients)
        return f"2001:db8:{n >> 16:x}:{n & 0xffff:x}::1"


@pytest.fixture(scope="module")
def fuzz_merchant(deps) -> FuzzMerchant:
    from domain.accounts import create_account
    from domain.db import UnitOfWork, session_factory

    with UnitOfWork(session_factory(deps.engine)) as uow:
        made = create_account(uow, "Fuzzed shop")
        uow.commit()
    return FuzzMerchant(made.account_id, made.api_key)
