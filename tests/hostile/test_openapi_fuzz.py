"""Schemathesis over `/openapi.json`, against the whole API in-process (WSGI) with a fresh
merchant's key: no 5xx, and every answer matches what the document says (status, content type,
headers, body shape); schema-invalid requests are refused, schema-valid ones accepted (but for the
data rules the document states in words); auth is never ignored."""
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


# Rules no JSON Schema can state: the document says each in words where it applies, and the API
# refuses it with a code of its own. A schema-valid request refused for anything else is a document
# looser than the validation.
DATA_RULE_CODES = frozenset({
    "resource_missing",      # a non-empty id (in the body or a cursor) that names no object of this account and mode
    "time_passed",           # redeem_by not in the future
    "metadata_too_large",    # metadata over 8 KiB as JSON
    "parameters_exclusive",  # starting_after and ending_before together (OpenAPI cannot relate two parameters)
    "livemode_mismatch",     # a processor setting of the other mode: the API key's mode decides, not the body
    "url_not_allowed",       # a webhook URL resolving to a private address (DNS), or http for a live-mode key
})


@schemathesis.check
def schema_valid_requests_are_accepted(ctx, response, case):
    """schemathesis's "schema-valid request rejected" check, except for the data rules above."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except AssertionError:
        code = _error_code(response)
        if response.status_code == 400 and code in DATA_RULE_CODES:
            return None
        raise


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# The same examples on every run unless FUZZ_RANDOM=1 (with FUZZ_EXAMPLES=500, say, for a deeper
# search by hand): a random run once failed main's tests on a Schemathesis false positive (a
# "negative" case whose only invalid parts, an undeclared query parameter and a missing
# Authorization header, did not survive into the request: we always send the header; upstream
# schemathesis#4762), which a CI run must not depend on.
@schema.parametrize()
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None, suppress_health_check=list(HealthCheck),
          database=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1")
def test_the_api_keeps_its_document(case, fuzz_merchant: FuzzMerchant):
    if "account_id" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "account_id": fuzz_merchant.account_id}
    case.call_and_validate(excluded_checks=[positive_data_acceptance],
                           additional_checks=[schema_valid_requests_are_accepted],
                           headers={"Authorization": f"Bearer {fuzz_merchant.api_key}"},
                           # each call from its own client (an IPv6 /64 of its own): the share
                           # endpoint is fuzzed, not throttled, and no other test's bucket is spent
                           environ_base={"REMOTE_ADDR": fuzz_merchant.next_ip()})
