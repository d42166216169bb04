"""`GET /metrics`: Prometheus exposition of all processes on this host."""
from __future__ import annotations

from api.openapi import Operation
from runtime.metrics import exposition


class Metrics:
    public = True

    def on_get(self, req, resp) -> None:
        body, content_type = exposition()
        resp.content_type = content_type
        resp.data = body


OPERATIONS = [Operation("GET", "/metrics", "Prometheus metrics", public=True)]
