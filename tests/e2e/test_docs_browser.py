"""The API reference at /docs in a real headless Chromium: Swagger UI draws every operation of
/openapi.json under the page's CSP, with no violation and nothing fetched from elsewhere."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_docs_renders_every_operation_with_no_csp_violation(browser, base_url, client):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    fetched: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: fetched.append(request.url))
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)

    document = client.simulate_get("/openapi.json").json
    operations = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.locator(".info .title").inner_text().startswith("PaymentKit payment links")
    # Try it out, against this server: the answer is shown.
    page.locator(".opblock-summary", has_text="/healthz").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    page.wait_for_selector(".live-responses-table .response-col_status", timeout=10_000)
    assert '"status": "ok"' in page.locator(".live-responses-table .microlight").first.inner_text()
    page.close()

    assert problems == []
    assert all(url.startswith(base_url + "/") for url in fetched), fetched
