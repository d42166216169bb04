"""A small HTTP/1.1 load generator, used only when `wrk` is not installed.

Same contract as bench/share.lua: `connections` connections kept busy for `duration` seconds,
each request from another address in X-Forwarded-For, the same result fields (microseconds).
It is Python, so it costs the server more CPU per request than wrk does on a 2-core machine:
compare its figures only with each other (the ratios), never with a wrk run.
"""
from __future__ import annotations

import multiprocessing
import socket
import threading
import time


def _connection(host: str, port: int, path: str, first_ip: int, deadline: float, out: dict) -> None:
    sock = None
    n = first_ip
    while time.monotonic() < deadline:
        n += 1
        ip = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
                   f"X-Forwarded-For: {ip}\r\n\r\n").encode()
        started = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(request)
            status, close = _read_response(sock)
        except OSError:
            out["errors"] += 1
            if sock is not None:
                sock.close()
            sock = None
            continue
        out["latencies"].append(int((time.perf_counter() - started) * 1_000_000))
        if not 200 <= status < 400:
            out["status_errors"] += 1
        if close:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()


def _read_response(sock: socket.socket) -> tuple[int, bool]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the body")
        body += chunk
    return status, headers.get("connection", "").lower() == "close"


def _process(host, port, path, connections, first_ip, duration, queue) -> None:
    deadline = time.monotonic() + duration
    out = {"latencies": [], "errors": 0, "status_errors": 0}
    threads = [threading.Thread(target=_connection, args=(host, port, path, first_ip + i * 1_000_000, deadline, out))
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(out)


def run(host: str, port: int, path: str, connections: int, duration: float, offset: int,
        processes: int = 2) -> dict:
    queue = multiprocessing.Queue()
    per = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=_process, args=(host, port, path, c, offset + i * 4_000_000 + 1,
                                                              duration, queue)) for i, c in enumerate(per) if c]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r["latencies"])

    def pct(p: float) -> int:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else 0

    return {"requests": len(latencies), "duration_us": int(elapsed * 1_000_000),
            "connect_errors": sum(r["errors"] for r in results), "read_errors": 0, "write_errors": 0,
            "status_errors": sum(r["status_errors"] for r in results), "timeouts": 0,
            "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99), "max_us": latencies[-1] if latencies else 0}
