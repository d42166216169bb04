"""The built-in test processor's authentication page (card 4000 0025 0000 3155): what a card
issuer's 3-D Secure page is for a real processor. Authorize or Fail, then back to the checkout."""
from __future__ import annotations

import re
from urllib.parse import parse_qs

from api.checkout.pages import form_origins, not_available, render
from api.http import raw_body
from api.html import from_our_pages, origin_of
from domain import checkout_sessions
from domain.processors import Processors

MAX_FORM_BYTES = 1024
# Where the answer sends the customer: the checkout's return address (CheckoutPage.on_post_pay).
_CHECKOUT_RETURN = re.compile(r"[^?#]*/checkout/([^/?#]+)/return")


class TestChallenge:
    public = True
    __test__ = False

    def __init__(self, processors: Processors):
        self._processors = processors
        self._origins = {origin_of(processors.checkout_base_url)}

    def on_get(self, req, resp, challenge_id: str) -> None:
        challenge = self._processors.test_processor().challenge(challenge_id)
        if challenge is None:
            return not_available(req, resp)
        render(req, resp, "challenge.html", form_origins=self._form_origins(req, challenge.return_url),
               challenge=challenge, action=req.path, livemode=False)

    def _form_origins(self, req, return_url: str | None) -> tuple[str, ...]:
        """The answer posts here and goes back to the checkout, which may send the customer on to
        the session's success or return URL: browsers check a form's redirects against form-action."""
        match = _CHECKOUT_RETURN.fullmatch(return_url or "")
        session = checkout_sessions.find_by_token(req.context.uow, match.group(1)) if match else None
        return form_origins(self._origins, session)

    def on_post(self, req, resp, challenge_id: str) -> None:
        if not from_our_pages(req, self._origins):
            return render(req, resp, "message.html", status=403, title="Request refused",
                          message="This request did not come from the authentication page.")
        processor = self._processors.test_processor()
        if processor.challenge(challenge_id) is None:
            return not_available(req, resp)
        answer = (parse_qs(raw_body(req, MAX_FORM_BYTES).decode("utf-8", "replace")).get("answer") or [""])[-1]
        challenge = processor.answer_challenge(challenge_id, authorize=answer == "authorize")
        resp.status = 303
        resp.location = challenge.return_url
