"""A Python client generated from /openapi.json (openapi-python-client, as a merchant would make one)
names each operation as a client author would and puts it in its resource's module, and works end
to end: catalog, a payment link, opening its share URL, the session list.

Before, every operation was named by its path (`post_payment_links`, `get_pay_share_item`) under
one `default` module."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

# module (the operation's tag) -> the functions it must hold (the operationIds)
EXPECTED = {
    "products": {"create_product", "list_products", "retrieve_product", "update_product"},
    "prices": {"create_price", "list_prices", "retrieve_price", "update_price"},
    "packages": {"create_package", "list_packages", "retrieve_package", "update_package"},
    "coupons": {"create_coupon", "list_coupons", "retrieve_coupon", "update_coupon"},
    "customers": {"create_customer", "list_customers", "retrieve_customer"},
    "payment_links": {"create_payment_link", "list_payment_links", "retrieve_payment_link", "update_payment_link",
                      "deactivate_payment_link"},
    "checkout_sessions": {"list_checkout_sessions", "retrieve_checkout_session", "expire_checkout_session"},
    "payments": {"list_payments", "retrieve_payment"},
    "refunds": {"create_refund"},
    "payment_methods": {"list_payment_methods"},
    "account": {"retrieve_account", "update_account"},
    "api_keys": {"list_api_keys", "create_api_key", "retrieve_api_key", "revoke_api_key"},
    "processor": {"retrieve_processor_setting", "choose_processor"},
    "subscriptions": {"list_subscriptions", "retrieve_subscription", "cancel_subscription"},
    "invoices": {"list_invoices", "retrieve_invoice"},
    "test_clocks": {"create_test_clock", "retrieve_test_clock", "advance_test_clock"},
    "share": {"open_share_link"},
    "health": {"check_health", "check_readiness"},
    "events": {"list_events", "retrieve_event", "redeliver_event"},
    "webhook_endpoints": {"create_webhook_endpoint", "list_webhook_endpoints", "retrieve_webhook_endpoint",
                          "update_webhook_endpoint", "delete_webhook_endpoint", "rotate_webhook_endpoint_secret",
                          "list_webhook_endpoint_deliveries"},
}


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory) -> str:
    """The client package generated from this app's document; its import name."""
    from falcon import testing

    folder = tmp_path_factory.mktemp("client")
    (folder / "openapi.json").write_text(testing.TestClient(app).simulate_get("/openapi.json").text)
    (folder / "config.yaml").write_text("post_hooks: []\npackage_name_override: paymentkit_client\n")
    result = subprocess.run([str(Path(sys.executable).parent / "openapi-python-client"), "generate",
                             "--path", "openapi.json", "--config", "config.yaml", "--meta", "none"],
                            cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    yield "paymentkit_client"
    sys.path.remove(str(folder))
    for name in [n for n in sys.modules if n.startswith("paymentkit_client")]:
        del sys.modules[name]


def test_every_operation_has_a_client_authors_name_in_its_resources_module(generated):
    api = Path(importlib.import_module(f"{generated}.api").__file__).parent
    modules = {folder.name: {f.stem for f in folder.glob("*.py") if f.stem != "__init__"}
               for folder in api.iterdir() if folder.is_dir() and folder.name != "__pycache__"}
    assert modules == EXPECTED


def test_the_generated_client_works_end_to_end(generated, app, merchant):
    def load(name: str):
        return importlib.import_module(f"{generated}.{name}")

    models = load("models")
    client = load("client").AuthenticatedClient(
        base_url="http://testserver", token=merchant.api_key, raise_on_unexpected_status=True,
        httpx_args={"transport": httpx.WSGITransport(app=app, remote_addr="198.51.100.77")})
    account = merchant.account_id

    product = load("api.products.create_product").sync(account, client=client, body=models.ProductCreate(name="Mug"))
    assert isinstance(product, models.ProductOut) and product.name == "Mug"
    price = load("api.prices.create_price").sync(account, client=client, body=models.PriceCreate(
        product_id=product.id, unit_amount_atom=1500, currency=models.PriceCreateCurrency("EUR")))
    link = load("api.payment_links.create_payment_link").sync(account, client=client, body=models.PaymentLinkCreate(
        name="Mug link", line_items=[models.PaymentLinkLineItemIn(price_id=price.id, quantity=2)]))
    assert isinstance(link, models.PaymentLinkOut) and link.total_amount_atom == 3000

    opened = load("api.share.open_share_link").sync(link.secure_token, client=client)
    assert isinstance(opened, models.ShareOut) and opened.checkout_session_id.startswith("cs_live_")
    listed = load("api.payment_links.list_payment_links").sync(account, client=client, limit=1)
    assert [item.id for item in listed.data] == [link.id]
    refused = load("api.products.create_product").sync_detailed(account, client=client,
                                                                body=models.ProductCreate(name=" "))
    assert refused.status_code == 400 and json.loads(refused.content)["error"]["param"] == "name"
