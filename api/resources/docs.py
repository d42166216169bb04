"""`GET /docs`: the API reference, Swagger UI reading `/openapi.json`.

Swagger UI's files come from the `swagger-ui-bundle-v2` wheel and are served from our own origin
(no CDN), by name from a short list: the wheel's other files (its demo page, its OAuth redirect
page with inline scripts) are not served. The page's start-up script is a file here too, so its
CSP allows scripts from 'self' only: no inline script, no eval.
"""
from __future__ import annotations

from pathlib import Path

import falcon
from swagger_ui_bundle import swagger_ui_path

DOCS = "/docs"
STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (Path(swagger_ui_path) / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (Path(swagger_ui_path) / "swagger-ui-bundle.js", "text/javascript"),
    "favicon-32x32.png": (Path(swagger_ui_path) / "favicon-32x32.png", "image/png"),
    "docs.js": (STATIC / "docs.js", "text/javascript"),
}
# Swagger UI sets element styles from script (allowed by 'self'), fetches the document and the
# "Try it out" calls from this origin (connect-src), and draws icons from data: URLs.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>PaymentKit API reference</title>
  <link rel="stylesheet" href="{DOCS}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{DOCS}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
  <script src="{DOCS}/swagger-ui-bundle.js"></script>
  <script src="{DOCS}/docs.js"></script>
</body>
</html>
"""


class Docs:
    public = True

    def on_get(self, req, resp) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = PAGE
        resp.set_header("Content-Security-Policy", DOCS_CSP)
        resp.set_header("X-Frame-Options", "DENY")


class Asset:
    public = True

    def on_get(self, req, resp, name: str) -> None:
        if name not in ASSETS:
            raise falcon.HTTPNotFound()
        path, content_type = ASSETS[name]
        resp.content_type = content_type
        resp.set_stream(open(path, "rb"), path.stat().st_size)
        resp.cache_control = ["public", "max-age=3600"]


def add_routes(app: falcon.App) -> None:
    app.add_route(DOCS, Docs())
    app.add_route(f"{DOCS}/{{name}}", Asset())
