"""`/openapi.json`: OpenAPI 3.1, every catalog path and method, and request shapes that match what the
API accepts and returns."""
import pytest

CATALOG = {"products": True, "prices": True, "packages": True, "coupons": True, "customers": False}  # has PATCH
METHODS = ("get", "post", "patch", "put", "delete")


@pytest.fixture(scope="module")
def doc(app):
    from falcon import testing

    result = testing.TestClient(app).simulate_get("/openapi.json")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("application/json")
    return result.json


def resolve(doc, schema):
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def refs_in(schema):
    if isinstance(schema, dict):
        if "$ref" in schema:
            yield schema["$ref"].rsplit("/", 1)[1]
        for value in schema.values():
            yield from refs_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from refs_in(value)


def test_is_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "sk_live_... or sk_test_..."}


@pytest.mark.parametrize("noun, patchable", CATALOG.items())
def test_every_catalog_path_and_method(doc, noun, patchable):
    collection = doc["paths"][f"/api/{{account_id}}/{noun}"]
    item = doc["paths"][f"/api/{{account_id}}/{noun}/{{object_id}}"]
    assert set(collection) == {"get", "post"}
    assert set(item) == ({"get", "patch"} if patchable else {"get"})
    for operation in [*collection.values(), *item.values()]:
        assert operation["security"] == [{"apiKey": []}]
        assert operation["operationId"] and operation["summary"]
        assert "200" in operation["responses"] and "401" in operation["responses"]
        assert {p["name"] for p in operation["parameters"] if p["in"] == "path"} <= {"account_id", "object_id"}
    assert {p["name"] for p in collection["get"]["parameters"] if p["in"] == "query"} == {
        "limit", "starting_after", "ending_before"}
    assert "requestBody" in collection["post"] and "requestBody" not in collection["get"]


def test_operation_ids_are_unique(doc):
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))


def test_each_operation_has_a_name_and_a_tag_of_its_resource(doc):
    """(tests/integration/test_openapi_client.py generates a client from these.)"""
    named = {(method, path): (op["operationId"], op["tags"]) for path, ops in doc["paths"].items()
             for method, op in ops.items()}
    assert named[("post", "/api/{account_id}/payment-links")] == ("create_payment_link", ["payment_links"])
    assert named[("get", "/api/pay/share/{secure_token}")] == ("open_share_link", ["share"])
    assert named[("delete", "/api/{account_id}/payment-links/{link_id}")] == ("deactivate_payment_link",
                                                                               ["payment_links"])
    assert named[("patch", "/api/{account_id}/coupons/{object_id}")] == ("update_coupon", ["coupons"])
    assert named[("get", "/api/{account_id}/payments")] == ("list_payments", ["payments"])
    assert named[("post", "/api/{account_id}/payments/{payment_id}/refunds")] == ("create_refund", ["refunds"])
    assert named[("get", "/api/{account_id}/customers/{object_id}/payment-methods")] == ("list_payment_methods",
                                                                                        ["payment_methods"])
    assert named[("patch", "/api/{account_id}/account")] == ("update_account", ["account"])
    assert named[("put", "/api/{account_id}/processor")] == ("choose_processor", ["processor"])
    assert named[("get", "/api/{account_id}/subscriptions")] == ("list_subscriptions", ["subscriptions"])
    assert named[("post", "/api/{account_id}/subscriptions/{subscription_id}/cancel")] == ("cancel_subscription",
                                                                                          ["subscriptions"])
    assert named[("get", "/api/{account_id}/invoices/{invoice_id}")] == ("retrieve_invoice", ["invoices"])
    assert named[("post", "/api/{account_id}/test-clocks/{clock_id}/advance")] == ("advance_test_clock",
                                                                                  ["test_clocks"])
    declared = {tag["name"] for tag in doc["tags"]}
    assert all(len(tags) == 1 and tags[0] in declared for _, tags in named.values())


def validator(doc, shape: str):
    import jsonschema_rs

    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{shape}", "components": doc["components"]},
                                       validate_formats=True)


@pytest.mark.parametrize("shape, body", [
    ("ProductCreate", {"name": ""}),
    ("ProductCreate", {"name": " \u3000"}),
    ("CustomerCreate", {"email": ""}),
    ("CustomerCreate", {"email": "a\u001e@example.com"}),
    ("CouponCreate", {"name": "c", "percent_off": 5, "redeem_by": ""}),
    ("CouponCreate", {"name": "c", "amount_off_atom": 5, "currency": "000"}),
    ("CouponCreate", {"name": "c", "percent_off": 5, "amount_off_atom": 5}),
    ("CouponCreate", {"name": "c", "percent_off": 5, "duration": "repeating"}),
    ("PriceCreate", {"product_id": "p", "unit_amount_atom": 1, "currency": "USD", "type": "recurring"}),
    ("PriceCreate", {"product_id": "p", "unit_amount_atom": 1, "currency": "USD", "interval": "day"}),
    ("PriceCreate", {"product_id": "p", "unit_amount_atom": 1, "currency": "USD", "type": "recurring",
                     "interval": "year", "interval_count": 2}),
    ("PaymentLinkCreate", {}),
    ("PaymentLinkCreate", {"mode": "subscription", "line_items": None}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "package_ids": ["k"]}),
    ("PaymentLinkCreate", {"mode": "setup", "coupon_id": "c"}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "free_trial_days": 7}),
    ("PaymentLinkCreate", {"package_ids": ["k", "k"]}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "success_url": "ftp://x"}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "metadata": {"": 1}}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "metadata": {"k": [[[[[1]]]]]}}),
    ("PaymentLinkCreate", {"line_items": [{"price_id": "p\u0000"}]}),
    ("RefundCreate", {"amount_atom": 0}),
    ("RefundCreate", {"amount_atom": 100_000_000_000}),
    ("RefundCreate", {"reason": "changed_my_mind"}),
    ("AccountUpdate", {"display_name": " "}),
    ("AccountUpdate", {"support_email": "a@b"}),
    ("AccountUpdate", {"brand_color": "#12345"}),
    ("AccountUpdate", {"brand_color": "#123456\n"}),
    ("AccountUpdate", {"name": "Shop"}),
    ("ProcessorChoose", {"processor": "test", "secret_key": "sk_test_12345678"}),
    ("ProcessorChoose", {"processor": "stripe"}),
    ("ProcessorChoose", {"processor": "stripe", "secret_key": "sk_test_1234567", "publishable_key": "pk_test_12345678",
                         "webhook_secret": "whsec_12345678"}),
    ("ProcessorChoose", {"processor": "stripe", "secret_key": "sk_test_1234 5678", "publishable_key":
                         "pk_test_12345678", "webhook_secret": "whsec_12345678"}),
    ("ProcessorChoose", {"processor": "stripe", "secret_key": "pk_test_12345678", "publishable_key":
                         "pk_test_12345678", "webhook_secret": "whsec_12345678"}),
])
def test_the_document_refuses_what_the_api_refuses(doc, shape, body):
    """Each was schema-valid and refused by the API (the fuzz run's "schema-valid request rejected")."""
    assert not validator(doc, shape).is_valid(body), body


@pytest.mark.parametrize("shape, body", [
    ("CouponCreate", {"name": "c", "percent_off": 12.5, "redeem_by": "2099-12-31T23:59:59Z"}),
    ("CouponCreate", {"name": "c", "amount_off_atom": 500, "currency": "EUR", "duration": "repeating",
                      "duration_in_months": 3}),
    ("PriceCreate", {"product_id": "p", "unit_amount_atom": 1, "currency": "JPY", "type": "recurring",
                     "interval": "week", "interval_count": 52}),
    ("PaymentLinkCreate", {"mode": "setup"}),
    ("PaymentLinkCreate", {"mode": "subscription", "package_ids": ["k"], "free_trial_days": 14,
                           "success_url": "HTTPS://shop.example/ok?s={CHECKOUT_SESSION_ID}",
                           "metadata": {"k": [[[[1]]]]}}),
    ("RefundCreate", {}),
    ("RefundCreate", {"amount_atom": 1, "reason": "duplicate"}),
    ("AccountUpdate", {"display_name": None, "support_email": "help@shop.example", "brand_color": "#A1b2C3"}),
    ("ProcessorChoose", {"processor": "test"}),
    ("ProcessorChoose", {"processor": "test", "secret_key": None}),
    ("ProcessorChoose", {"processor": "stripe", "secret_key": "rk_live_12345678", "publishable_key":
                         "pk_live_12345678", "webhook_secret": "whsec_12345678"}),
])
def test_the_document_allows_what_the_api_allows(doc, shape, body):
    assert validator(doc, shape).is_valid(body), body


def test_cursors_say_what_an_unknown_id_does(doc):
    for param in doc["paths"]["/api/{account_id}/payment-links"]["get"]["parameters"]:
        if param["name"] in ("starting_after", "ending_before"):
            assert "resource_missing" in param["description"] and "parameters_exclusive" in param["description"]


def test_request_schemas_reject_unknown_fields(doc):
    """Every object a request body may contain, nested ones too, says additionalProperties: false."""
    seen = set()
    todo = [name for path in doc["paths"].values() for op in path.values()
            for name in refs_in(op.get("requestBody", {}))]
    assert todo
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        schema = doc["components"]["schemas"][name]
        if schema.get("type") == "object" and "properties" in schema:
            assert schema.get("additionalProperties") is False, name
        todo.extend(refs_in(schema))
    assert {"ProductCreate", "PriceCreate", "PackageCreate", "CouponCreate", "CustomerCreate",
            "ActiveUpdate"} <= seen


def test_request_fields_are_the_specs(doc):
    schemas = doc["components"]["schemas"]
    assert set(schemas["ProductCreate"]["properties"]) == {"name", "description", "metadata"}
    assert set(schemas["PriceCreate"]["properties"]) == {"product_id", "unit_amount_atom", "currency", "type",
                                                         "interval", "interval_count"}
    assert set(schemas["PackageCreate"]["properties"]) == {"name", "price_ids"}
    assert set(schemas["CouponCreate"]["properties"]) == {"name", "percent_off", "amount_off_atom", "currency",
                                                          "duration", "duration_in_months", "max_redemptions",
                                                          "redeem_by"}
    # SPEC 8: a test-mode customer may be created on a test clock.
    assert set(schemas["CustomerCreate"]["properties"]) == {"email", "name", "metadata", "test_clock_id"}
    assert schemas["ActiveUpdate"]["required"] == ["active"]
    assert schemas["PriceCreate"]["properties"]["unit_amount_atom"]["type"] == "integer"


def test_documented_routes_exist_and_undocumented_methods_do_not(doc, merchant):
    product = merchant.product()
    for noun in CATALOG:
        for path in (f"/{noun}", f"/{noun}/{product['id']}"):
            documented = doc["paths"][f"/api/{{account_id}}{path.replace(product['id'], '{object_id}')}"]
            for method in METHODS:
                result = merchant._call(method.upper(), path, json={})
                assert (result.status_code == 405) is (method not in documented), (method, path, result.status)


@pytest.mark.parametrize("noun, schema", [("products", "ProductOut"), ("prices", "PriceOut"),
                                          ("packages", "PackageOut"), ("coupons", "CouponOut"),
                                          ("customers", "CustomerOut")])
def test_response_schemas_match_responses(doc, merchant, noun, schema):
    price = merchant.price()
    bodies = {"products": {"name": "p"}, "prices": {"product_id": price["product_id"], "unit_amount_atom": 1,
                                                    "currency": "USD"},
              "packages": {"name": "k", "price_ids": [price["id"]]}, "coupons": {"name": "c", "percent_off": 5},
              "customers": {"email": "a@example.com"}}
    made = merchant.ok("POST", f"/{noun}", bodies[noun])
    shape = doc["components"]["schemas"][schema]
    assert set(made) == set(shape["properties"])
    assert set(shape["required"]) == set(shape["properties"]) - {"object"}
    assert shape["properties"]["object"]["enum"] == [made["object"]]
    listed = resolve(doc, doc["paths"][f"/api/{{account_id}}/{noun}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    assert set(listed["properties"]) == {"object", "data", "has_more"}


def test_error_schema_is_the_specs(doc):
    detail = doc["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"type", "code", "message", "param", "errors"}
    assert set(detail["required"]) == {"type", "code", "message", "param"}  # `errors` only when there are several


def test_health_is_public(doc):
    for path in ("/healthz", "/readyz"):
        assert "security" not in doc["paths"][path]["get"]
    assert "503" in doc["paths"]["/readyz"]["get"]["responses"]


def test_payments_account_and_processor_are_the_specs(doc):
    schemas = doc["components"]["schemas"]
    assert set(schemas["RefundCreate"]["properties"]) == {"amount_atom", "reason"}
    assert set(schemas["AccountUpdate"]["properties"]) == {"display_name", "support_email", "brand_color"}
    assert set(schemas["ProcessorChoose"]["properties"]) == {"processor", "secret_key", "publishable_key",
                                                             "webhook_secret"}
    listed = doc["paths"]["/api/{account_id}/payments"]["get"]
    assert {p["name"] for p in listed["parameters"] if p["in"] == "query"} == {
        "limit", "starting_after", "ending_before", "checkout_session_id", "customer_id", "status"}
    assert set(doc["paths"]["/api/{account_id}/account"]) == {"get", "patch"}
    assert set(doc["paths"]["/api/{account_id}/processor"]) == {"get", "put"}
    assert set(doc["paths"]["/api/{account_id}/payments/{payment_id}/refunds"]) == {"post"}


ID_FILTERS = [("/payment-links", "customer_id"), ("/checkout-sessions", "payment_link_id"),
              ("/payments", "customer_id"), ("/payments", "checkout_session_id"), ("/subscriptions", "customer_id"),
              ("/subscriptions", "payment_link_id"), ("/invoices", "subscription_id"),
              ("/payment-links", "starting_after")]


@pytest.mark.parametrize("path, param", ID_FILTERS)
def test_an_empty_id_in_a_list_query_is_refused_naming_it_as_the_document_says(doc, merchant, path, param):
    refused = merchant.get(path, query_string=f"{param}=")
    assert refused.status_code == 400, refused.text
    error = refused.json["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", param)
    assert error["message"].startswith(f"{param} must be a non-empty string")
    [documented] = [p for p in doc["paths"][f"/api/{{account_id}}{path}"]["get"]["parameters"] if p["name"] == param]
    assert documented["schema"]["minLength"] == 1


def test_an_empty_customer_id_in_a_body_is_refused_naming_it_as_the_document_says(doc, merchant):
    body = {"line_items": [{"price_id": merchant.price(1000)["id"]}], "customer_id": ""}
    refused = merchant.post("/payment-links", body)
    assert refused.status_code == 400, refused.text
    error = refused.json["error"]
    assert (error["code"], error["param"]) == ("parameter_invalid", "customer_id")
    for shape, body in (("PaymentLinkCreate", body),
                        ("PaymentLinkCreate", {"line_items": [{"price_id": "p"}], "coupon_id": ""}),
                        ("PriceCreate", {"product_id": "", "unit_amount_atom": 1, "currency": "USD"}),
                        ("CustomerCreate", {"email": "a@example.com", "test_clock_id": ""}),
                        ("RedeliverRequest", {"endpoint_id": ""})):
        field = next(k for k, v in body.items() if v == "")
        assert not validator(doc, shape).is_valid(body), body
        assert validator(doc, shape).is_valid({**body, field: "x"}), body  # the empty id alone was wrong
