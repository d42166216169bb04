"""The built-in test processor's authentication page (card 4000 0025 0000 3155): what a card
issuer's 3-D Secure page is for a real processor. Authorize or Fail, then back to the checkout."""
from __future__ import annotations

from urllib.parse import parse_qs

from api.checkout.pages import not_available, render
from api.http import raw_body
from api.html import from_our_pages, origin_of
from domain.processors import Processors

MAX_FORM_BYTES = 1024


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
        render(req, resp, "challenge.html", challenge=challenge, action=req.path, livemode=False)

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
