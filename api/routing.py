"""The app's router: Falcon's own, with HEAD answered by a route's GET responder.

Falcon gives HEAD a 405 unless a resource has `on_head`. Mapped here once for every route, HEAD
runs the GET responder (the same status, headers and Content-Length) and Falcon leaves the body
out, as it does for every HEAD request (RFC 9110 section 9.3.2).
"""
from __future__ import annotations

from typing import Any

from falcon.routing import CompiledRouter


class Router(CompiledRouter):
    def map_http_methods(self, resource: object, **kwargs: Any) -> dict:
        methods = super().map_http_methods(resource, **kwargs)
        if "GET" in methods and "HEAD" not in methods:
            methods["HEAD"] = methods["GET"]
        return methods
