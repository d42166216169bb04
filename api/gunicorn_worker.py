"""The web process's gunicorn worker: an event loop reads each request whole, then a thread runs it.

gunicorn's sync worker gives a process to a connection before its request has arrived, so a few
clients that send half a request and wait hold every worker (the issue measured a normal request
waiting 32.7 s, until gunicorn killed them). Here gunicorn's own asyncio worker (`asgi`) reads
the request line, the headers and the body (up to `MAX_BODY_BYTES` + 1, so the app can still
answer 413) without holding a thread; only a complete request is handed to one of
`WEB_THREADS` threads, which runs the same Falcon WSGI app (`api.wsgi:app`) and collects its
answer, and the loop writes it back. A slow client costs a parked connection, not a worker.
gunicorn.conf.py and bench/README.md have the measurements that chose it.

What gunicorn refuses itself, before the app sees a request (a request line past 4094 bytes, a
malformed request, headers too large), is answered in the API's JSON error shape too.
"""
from __future__ import annotations

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi
from gunicorn.workers.gasgi import ASGIWorker

from api.errors import ERROR_TYPES, error_body

# gunicorn's own refusals, in our words: the request itself is never echoed back.
SERVER_ERRORS = {
    400: ("bad_request", "The request is not valid HTTP/1.1."),
    414: ("request_line_too_long", "The request line (method, path and query) is too long."),
    431: ("request_headers_too_large", "The request headers are too many or too large."),
    500: ("internal_error", "Something went wrong on our side."),
    501: ("not_implemented", "The request uses an HTTP feature this server does not implement."),
}


class CompleteRequests:
    """An ASGI app around a WSGI app: the body is read in full (bounded) before a thread runs it."""

    def __init__(self, wsgi_app, threads: int, max_body_bytes: int):
        self._app = wsgi_app
        self._max_body_bytes = max_body_bytes
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="web")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        if scope["type"] != "http":
            return None  # no websockets here: the server refuses the upgrade
        body = await self._read_body(receive)
        if body is None:
            return None  # the client went away before its request was complete
        environ = wsgi_environ(scope, body)
        status, headers, answer = await asyncio.get_running_loop().run_in_executor(self._threads, self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _read_body(self, receive) -> bytes | None:
        """The body, or its first `max_body_bytes` + 1 bytes (enough for the app to say 413)."""
        body = bytearray()
        while len(body) <= self._max_body_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        return bytes(body)

    def _run(self, environ: dict) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """In a thread: the WSGI app's status, headers and whole body."""
        started: list = []

        def start_response(status: str, response_headers, exc_info=None):
            started[:] = [status, response_headers]
            return _no_write

        result = self._app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, response_headers = started
        return (int(status.split(" ", 1)[0]),
                [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response_headers], body)


def _no_write(data: bytes) -> None:
    raise RuntimeError("the WSGI write() callable is not supported: return the body instead")


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def wsgi_environ(scope: dict, body: bytes) -> dict:
    """PEP 3333's environ for an ASGI request scope, as gunicorn's WSGI workers build it: the path
    percent-decoded to bytes and carried as latin-1, the whole body in `wsgi.input`."""
    server_host, server_port = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server_host),
        "SERVER_PORT": str(server_port or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,  # the body is all here: read it to the end, chunked or not
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = scope["client"][0], str(scope["client"][1])
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


class JsonErrorProtocol(ASGIProtocol):
    """gunicorn's HTTP protocol, with its own error answers as `{"error": {...}}` JSON."""

    def _send_error_response(self, status, message, extra_headers=()):
        code, text = SERVER_ERRORS.get(status, ("bad_request", "The request could not be served."))
        body = error_body(ERROR_TYPES.get(status, "invalid_request_error"), code, text, None)
        head = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        reason = self._get_reason_phrase(status)
        reason = HTTPStatus(status).phrase if reason == "Unknown" else reason
        self._safe_write((f"HTTP/1.1 {status} {reason}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{head}"
                          "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
                          "Connection: close\r\n\r\n").encode("latin-1") + body)


class Worker(ASGIWorker):
    """gunicorn's asyncio worker serving our WSGI app through `CompleteRequests`."""

    def run(self) -> None:
        # The worker makes each connection's protocol by this module-level name (gasgi._serve).
        gasgi.ASGIProtocol = JsonErrorProtocol
        super().run()

    def load_wsgi(self) -> None:
        from runtime.settings import Settings

        super().load_wsgi()
        settings = Settings.from_env()
        self.asgi = CompleteRequests(self.asgi, settings.web_threads, settings.max_body_bytes)
