"""Prometheus metrics are served on a port of their own (loopback by default), never by the public app."""
import urllib.request

from runtime import metrics
from runtime.settings import Settings


def test_metrics_are_not_on_the_public_port(client):
    assert client.simulate_get("/metrics").status_code == 404
    assert "/metrics" not in client.simulate_get("/openapi.json").json["paths"]


def test_the_metrics_port_is_loopback_unless_configured():
    assert (Settings.from_env({}).metrics_host, Settings.from_env({}).metrics_port) == ("127.0.0.1", 9100)
    assert Settings.from_env({"METRICS_HOST": "10.0.0.5", "METRICS_PORT": "9200"}).metrics_port == 9200


def test_metrics_count_share_outcomes(client, merchant):
    server, thread = metrics.start_server("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        def scrape() -> str:
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain")
                return answer.read().decode()

        before = scrape()
        client.simulate_get("/api/pay/share/unknown-token", headers={"Accept": "application/json"},
                            remote_addr="10.9.9.9")
        after = scrape()
    finally:
        server.shutdown()
        server.server_close()

    def value(text: str) -> float:
        line = next(l for l in text.splitlines() if l.startswith("paymentkit_share_not_available_total "))
        return float(line.split()[1])

    assert value(after) == value(before) + 1
    for name in ("paymentkit_share_opens_total", "paymentkit_share_rate_limited_total",
                 "paymentkit_enqueue_failures_total", "paymentkit_checkout_sessions_created_total",
                 "paymentkit_checkout_sessions_completed_total", "paymentkit_checkout_sessions_expired_total",
                 "paymentkit_expiry_lag_seconds"):
        assert name in after


def test_metrics_serve_adds_up_every_process(tmp_path):
    """`paymentkit metrics serve` (the Procfile's `metrics`) shows what other processes counted."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    refused = subprocess.run([str(bin_dir / "paymentkit"), "metrics", "serve"], env=env, capture_output=True,
                             text=True, timeout=30)
    assert refused.returncode == 2 and "PROMETHEUS_MULTIPROC_DIR" in refused.stderr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.update(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), METRICS_PORT=str(port))
    counted = "from runtime import metrics; metrics.SHARE_OPENS.inc(3)"
    subprocess.run([sys.executable, "-c", counted], env=env, check=True, timeout=30)
    subprocess.run([sys.executable, "-c", counted], env=env, check=True, timeout=30)
    server = subprocess.Popen([str(bin_dir / "paymentkit"), "metrics", "serve"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert f"metrics on http://127.0.0.1:{port}/metrics" in server.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                    text = answer.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the metrics server never answered"
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
    assert "paymentkit_share_opens_total 6.0" in text
