"""What gunicorn refuses before the app sees a request answers in the API's error shape (it was an
HTML page): a request line past its limit (414), a request that is not HTTP (400), headers past
their limit (431)."""
from __future__ import annotations

import json
import socket

import pytest

from tests.faults.stack import Stack, private_dir, remove
from tests.hostile.conftest import assert_error


@pytest.fixture(scope="module")
def served(database_url, server_urls, redis_client):
    folder = private_dir("pkservererrors-")
    stack = Stack(database_url=database_url, redis_url=server_urls["REDIS_URL"], folder=folder)
    stack.start_web(workers=1)
    yield stack
    stack.close()
    remove(folder)


class Raw:
    """An answer read off a socket: enough of http.client's result for `assert_error`."""

    def __init__(self, data: bytes):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_code = int(lines[0].split()[1])
        self.status = lines[0]
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.text = body.decode("utf-8", "replace")


def send_raw(stack: Stack, request: bytes) -> Raw:
    host, port = stack.web_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return Raw(data)


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long"),
    (b"NOT AN HTTP REQUEST\r\n\r\n", 400, "bad_request"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n",
     431, "request_headers_too_large"),
], ids=["414 request line", "400 not HTTP", "431 headers"])
def test_server_refusals_are_json_errors(served, request_bytes, status, code):
    answer = send_raw(served, request_bytes)
    error = assert_error(answer, status, code, param=None)
    assert "<html" not in answer.text.lower() and "AAAA" not in error["message"].upper()
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert json.loads(answer.text)["error"]["type"] == "invalid_request_error"
