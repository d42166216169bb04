"""`GET /docs`: the API reference page, its CSP (for that page only) and its assets, all from our
own origin."""
from __future__ import annotations

import re

JSON = {"Accept": "application/json"}


def policy_of(answer) -> dict[str, str]:
    header = answer.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_docs_is_html_with_a_csp_that_allows_only_our_own_scripts(client):
    page = client.simulate_get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = policy_of(page)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"  # the document and "Try it out"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert "unsafe-eval" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_the_page_reads_openapi_json_and_loads_everything_from_our_origin(client):
    page = client.simulate_get("/docs").text
    assert 'data-openapi-url="/openapi.json"' in page
    assert "<script>" not in page  # no inline script: the CSP would refuse it
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert {"/docs/swagger-ui-bundle.js", "/docs/docs.js", "/docs/swagger-ui.css"} <= set(assets)
    for path in assets:
        assert path.startswith("/") and not path.startswith("//"), path
        answer = client.simulate_get(path)
        assert answer.status_code == 200, path
        assert "cache-control" in answer.headers and answer.headers["x-content-type-options"] == "nosniff"
    bundle = client.simulate_get("/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript") and b"SwaggerUIBundle" in bundle.content
    assert client.simulate_get("/docs/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert "dataset.openapiUrl" in client.simulate_get("/docs/docs.js").text
    assert client.simulate_get("/openapi.json").json["openapi"] == "3.1.0"


def test_only_the_listed_files_of_the_bundle_are_served(client):
    for name in ("index.html", "oauth2-redirect.html", "swagger-initializer.js", "..%2Fpyproject.toml", "nothing"):
        assert client.simulate_get(f"/docs/{name}").status_code == 404, name


def test_the_docs_csp_is_for_that_page_only(client):
    hosted = client.simulate_get("/checkout/not-a-token", headers={"Accept": "text/html"})
    assert "script-src" not in policy_of(hosted)
    assert "content-security-policy" not in client.simulate_get("/openapi.json").headers
