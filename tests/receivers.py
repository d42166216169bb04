"""A real HTTP receiver on loopback for webhook tests: it records every request and answers as
scripted (a status, headers, a body, a delay before answering, or never)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds before answering (a long one: an endpoint that never answers)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request was read


class Receiver:
    """`with Receiver() as hook:` ... `hook.url`, `hook.received`, `hook.script(Reply(500), ...)`."""

    def __init__(self, default: Reply | None = None):
        self.default = default or Reply()
        self.received: list[Received] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.monotonic()))
                    reply = receiver._replies.popleft() if receiver._replies else receiver.default
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                try:
                    if reply.delay:
                        receiver._stopping.wait(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (a timeout): nothing to answer
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; then the default."""
        with self._lock:
            self._replies.extend(replies)

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for r in self.received]

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
