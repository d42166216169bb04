"""Schemathesis over `/openapi.json`, against the whole API in-process (WSGI) with a fresh
merchant's key: no 5xx, and every answer matches what the document says (status, content type,
headers, body shape); schema-invalid requests are refused; auth is never ignored."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.hostile.conftest import FuzzMerchant


class ServedApp:
    """The WSGI app Schemathesis calls: the tests' own app (this run's database and Redis key
    space) once the `app` fixture has made it. Before that, one that needs no server, to read
    the document from."""

    def __init__(self):
        from api.app import create_app
        from runtime.settings import Settings

        self.target = create_app(Settings.from_env())

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


served = ServedApp()
schema = schemathesis.openapi.from_wsgi("/openapi.json", served)


@pytest.fixture(autouse=True)
def calls_go_to_the_tests_app(app):
    served.target = app


# Left out: `positive_data_acceptance` (a schema-valid request must succeed). The document says
# what each field may hold; whether a `product_id` exists, a currency is ISO 4217, or a mode allows
# a price are rules of the data (SPEC: a 400 naming the field), which no schema can state.
@schema.parametrize()
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_keeps_its_document(case, fuzz_merchant: FuzzMerchant):
    if "account_id" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "account_id": fuzz_merchant.account_id}
    case.call_and_validate(excluded_checks=[positive_data_acceptance],
                           headers={"Authorization": f"Bearer {fuzz_merchant.api_key}"},
                           # each call from its own client (an IPv6 /64 of its own): the share
                           # endpoint is fuzzed, not throttled, and no other test's bucket is spent
                           environ_base={"REMOTE_ADDR": fuzz_merchant.next_ip()})
