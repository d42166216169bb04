def test_metrics_count_share_outcomes(client, merchant):
    before = client.simulate_get("/metrics").text
    client.simulate_get("/api/pay/share/unknown-token", headers={"Accept": "application/json"}, remote_addr="10.9.9.9")
    after = client.simulate_get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")

    def value(text: str) -> float:
        line = next(l for l in text.splitlines() if l.startswith("paymentkit_share_not_available_total "))
        return float(line.split()[1])

    assert value(after.text) == value(before) + 1
    for name in ("paymentkit_share_opens_total", "paymentkit_share_rate_limited_total",
                 "paymentkit_enqueue_failures_total", "paymentkit_checkout_sessions_created_total",
                 "paymentkit_checkout_sessions_completed_total", "paymentkit_checkout_sessions_expired_total",
                 "paymentkit_expiry_lag_seconds"):
        assert name in after.text
