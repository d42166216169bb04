"""What the web process logs: one access line per request (route template, never a token), a line
when a session completes, and one when a dashboard sign-in fails; all JSON through runtime/logs."""
from __future__ import annotations

import json
import logging

import pytest

from runtime.logs import JsonFormatter
from tests.integration.test_checkout_page import BROWSER, make_link, open_session, post
from tests.integration.test_dashboard import PASSWORD, Browser, user  # noqa: F401  (the `user` fixture)

JSON = {"Accept": "application/json"}


def lines(caplog, logger: str) -> list[dict]:
    """The JSON lines `logger` wrote, as the formatter of every process writes them."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records if record.name == logger]


@pytest.fixture
def access(caplog):
    caplog.set_level(logging.INFO, logger="paymentkit.access")
    return lambda: lines(caplog, "paymentkit.access")


def test_a_share_open_logs_its_route_template_and_never_the_token(client, merchant, access):
    token = make_link(merchant)["secure_token"]
    opened = client.simulate_get(f"/api/pay/share/{token}", headers=BROWSER, remote_addr="10.31.0.1")
    checkout_token = opened.headers["location"].rsplit("/", 1)[-1]
    shown = client.simulate_get(f"/checkout/{checkout_token}", headers=BROWSER)

    share_line, page_line = access()[-2:]
    assert {k: share_line[k] for k in ("method", "route", "status")} == \
        {"method": "GET", "route": "/api/pay/share/{secure_token}", "status": 303}
    assert {k: page_line[k] for k in ("method", "route", "status")} == \
        {"method": "GET", "route": "/checkout/{token}", "status": shown.status_code}
    assert share_line["request_id"] == opened.headers["x-request-id"]
    assert page_line["request_id"] == shown.headers["x-request-id"]
    assert isinstance(share_line["duration_ms"], float) and share_line["duration_ms"] >= 0
    assert share_line["logger"] == "paymentkit.access" and share_line["level"] == "info"
    for line in (share_line, page_line):
        assert token not in json.dumps(line) and checkout_token not in json.dumps(line)


def test_each_request_logs_exactly_one_access_line(client, merchant, access):
    before = len(access())
    merchant.get("/payment-links")
    client.simulate_get("/api/pay/share/nothing", headers=JSON, remote_addr="10.31.0.2")
    assert [(line["route"], line["status"]) for line in access()[before:]] == \
        [("/api/{account_id}/payment-links", 200), ("/api/pay/share/{secure_token}", 404)]


def test_an_unrouted_path_logs_no_route_and_never_the_path(client, access):
    client.simulate_get("/no/such/secret-looking-path")
    line = access()[-1]
    assert (line["route"], line["status"]) == (None, 404)
    assert "secret-looking-path" not in json.dumps(line)
    assert "(unrouted)" in line["message"]


def test_a_static_file_logs_its_folder_not_its_name(client, access):
    assert client.simulate_get("/dashboard/static/dashboard.css").status_code == 200
    assert access()[-1]["route"] == "/dashboard/static/{file}"


def test_a_paid_session_logs_its_id_and_never_its_token(client, merchant, uow_factory, settings, caplog):
    caplog.set_level(logging.INFO, logger="paymentkit.checkout_sessions")
    merchant = merchant.in_test_mode()
    link = make_link(merchant)
    token = open_session(uow_factory, settings, link)
    assert post(client, token, "pay").status_code == 303
    session = merchant.ok("GET", f"/checkout-sessions?payment_link_id={link['id']}")["data"][0]

    [line] = lines(caplog, "paymentkit.checkout_sessions")
    assert line["message"] == f"checkout session {session['id']} completed"
    assert (line["checkout_session_id"], line["account_id"], line["payment_link_id"]) == \
        (session["id"], merchant.account_id, link["id"])
    assert line["amount_total_atom"] == session["amount_total_atom"] and line["currency"] == "USD"
    assert token not in json.dumps(line)


def test_a_refused_payment_logs_no_completion(client, merchant, uow_factory, settings, caplog):
    caplog.set_level(logging.INFO, logger="paymentkit.checkout_sessions")
    token = open_session(uow_factory, settings, make_link(merchant.in_test_mode()))
    post(client, token, "pay")
    caplog.clear()
    assert post(client, token, "pay").status_code == 409  # already complete
    assert lines(caplog, "paymentkit.checkout_sessions") == []


def test_a_failed_sign_in_logs_why_and_the_email_only_by_hash_and_domain(client, user, caplog):  # noqa: F811
    from domain.users import email_key

    caplog.set_level(logging.INFO, logger="paymentkit.users")
    Browser(client).sign_in(user.email, "wrong password!")
    Browser(client).sign_in("nobody@elsewhere.example", PASSWORD)
    wrong, unknown = lines(caplog, "paymentkit.users")

    assert (wrong["level"], wrong["reason"], wrong["email_domain"]) == ("warning", "wrong_password", "example.com")
    assert wrong["email_hash"] == email_key(user.email) and len(wrong["email_hash"]) == 32
    assert (unknown["reason"], unknown["email_domain"]) == ("unknown_email", "elsewhere.example")
    for line in (wrong, unknown):
        text = json.dumps(line)
        assert "wrong password!" not in text and PASSWORD not in text
        assert user.email not in text and "nobody@" not in text
    assert "request_id" in wrong


def test_a_good_sign_in_logs_no_failure(client, user, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="paymentkit.users")
    assert Browser(client).sign_in(user.email).status_code == 303
    assert lines(caplog, "paymentkit.users") == []
