"""The Stripe connector's test servers, both on loopback and nowhere else: a real localstripe
(one process per test run, stopped at the end), and `recorded`, a tiny HTTP server answering
with responses recorded from Stripe's API reference. Nothing here reaches Stripe or any other
host."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from domain.payments.stripe import StripeProcessor

LAUNCHER = Path(__file__).with_name("localstripe_server.py")
SECRET_KEY = "sk_test_paymentkit"  # localstripe takes any key starting sk_
PUBLISHABLE_KEY = "pk_test_paymentkit"
EXP_MONTH, EXP_YEAR = 12, 2034


class LocalStripe:
    """A running localstripe: its address, and the calls the customer's browser would make
    (Stripe.js), made here over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def processor(self, **options) -> StripeProcessor:
        return StripeProcessor(SECRET_KEY, api_base=self.base_url, **options)

    def request(self, method: str, path: str, form: dict | None = None, json_body: dict | None = None,
                key: str = SECRET_KEY) -> dict:
        data, headers = None, {"Authorization": f"Bearer {key}"}
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json"}  # Stripe.js's calls carry the publishable key in the body
        with urllib.request.urlopen(urllib.request.Request(self.base_url + path, data, headers, method=method),
                                    timeout=10) as answer:
            return json.loads(answer.read() or b"{}")  # localstripe's /_config/ calls answer nothing

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def payment_method(self, number: str) -> str:
        """A card PaymentMethod, as Stripe.js makes one from the card field. (Stripe.js sends
        the publishable key; localstripe takes only a secret key on this endpoint.)"""
        made = self.request("POST", "/v1/payment_methods", form={
            "type": "card", "card[number]": number, "card[exp_month]": EXP_MONTH, "card[exp_year]": EXP_YEAR,
            "card[cvc]": "123"})
        return made["id"]

    def authenticate_payment(self, client_secret: str, *, success: bool) -> dict:
        """The customer's answer to the 3-D Secure challenge of a PaymentIntent, as localstripe's
        Stripe.js sends it (its Complete / Fail authentication buttons)."""
        intent_id = client_secret.split("_secret_")[0]
        return self.request("POST", f"/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}",
                            json_body={"key": PUBLISHABLE_KEY, "client_secret": client_secret})

    def authenticate_setup(self, client_secret: str) -> dict:
        """Complete authentication of a SetupIntent, as localstripe's Stripe.js does."""
        setup_id = client_secret.split("_secret_")[0]
        return self.request("POST", f"/v1/setup_intents/{setup_id}/confirm", json_body={
            "key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": client_secret})


@pytest.fixture(scope="session")
def localstripe():
    listener = socket.create_server(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    output = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, str(LAUNCHER), str(listener.fileno())],
                               pass_fds=[listener.fileno()], stdin=subprocess.DEVNULL, stdout=output,
                               stderr=subprocess.STDOUT)
    listener.close()  # the child serves it now
    try:
        _wait_until_serving(base_url, process, output)
        yield LocalStripe(base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def _wait_until_serving(base_url: str, process: subprocess.Popen, output) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/js.stripe.com/v3/", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                output.seek(0)
                raise RuntimeError(f"localstripe did not start:\n{output.read().decode(errors='replace')}") from None
            time.sleep(0.1)


# ---- recorded answers ------------------------------------------------------------------------

@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    form: dict[str, str]


class RecordedStripe:
    """Answers each request with the next recorded answer: (status, body), "drop" (the
    connection closes with no answer) or ("hang", seconds). Keeps every request in `sent`."""

    def __init__(self):
        self.answers: list = []
        self.sent: list[Sent] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, *answers) -> None:
        self.answers.extend(answers)

    def _handler(self):
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                url = urllib.parse.urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                recorded.sent.append(Sent(self.command, url.path, dict(urllib.parse.parse_qsl(url.query)),
                                          {k.lower(): v for k, v in self.headers.items()},
                                          dict(urllib.parse.parse_qsl(body))))
                answer = recorded.answers.pop(0) if recorded.answers else (599, {"error": {"message": "no answer"}})
                if answer == "drop":
                    self.close_connection = True
                    return
                if answer[0] == "hang":
                    time.sleep(answer[1])
                    answer = (200, {})
                status, payload = answer
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Request-Id", f"req_{len(recorded.sent)}")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def recorded():
    made = RecordedStripe()
    thread = threading.Thread(target=made.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()
