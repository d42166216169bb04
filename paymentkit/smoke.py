"""A smoke check of a running installation, over HTTP only: make a link, open it, and wait for a
worker to store the checkout session. `python -m paymentkit.smoke BASE_URL ACCOUNT_ID API_KEY`"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request


def call(base: str, method: str, path: str, key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Accept": "application/json", "Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def main(base: str, account_id: str, key: str) -> int:
    api = f"/api/{account_id}"
    product = call(base, "POST", f"{api}/products", key, {"name": "Smoke mug"})[1]
    price = call(base, "POST", f"{api}/prices", key,
                 {"product_id": product["id"], "unit_amount_atom": 1500, "currency": "EUR"})[1]
    link = call(base, "POST", f"{api}/payment-links", key, {"line_items": [{"price_id": price["id"], "quantity": 2}]})[1]
    status, opened = call(base, "GET", f"/api/pay/share/{link['secure_token']}")
    if status != 200:
        print(f"smoke: opening the share URL answered {status}: {opened}")
        return 1
    session_path = f"{api}/checkout-sessions/{opened['checkout_session_id']}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, session = call(base, "GET", session_path, key)
        if status == 200:
            print(f"smoke: session {session['id']} stored by a worker, {session['status']}, "
                  f"total {session['amount_total_atom']} {session['currency']}")
            return 0 if session["amount_total_atom"] == 3000 else 1
        time.sleep(0.5)
    print("smoke: no worker stored the checkout session within 60 s")
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
