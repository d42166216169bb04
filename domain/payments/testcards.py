"""The built-in test processor's cards: SPEC 7's table, Stripe's test numbers. Any other number
is refused on the form ("use a test card") and never charged."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.payments.processor import FailureCode


class Behavior(StrEnum):
    SUCCEEDS = "succeeds"
    DECLINES = "declines"  # every charge and every save fails with the card's failure code
    AUTHENTICATES = "authenticates"  # on-session charges and saving need the customer's challenge
    DECLINES_AFTER_FIRST_CHARGE = "declines_after_first_charge"  # off-session, once charged before


@dataclass(frozen=True)
class CardScenario:
    number: str
    brand: str
    behavior: Behavior
    failure_code: FailureCode | None = None  # for DECLINES


TEST_CARDS: dict[str, CardScenario] = {card.number: card for card in [
    CardScenario("4242424242424242", "visa", Behavior.SUCCEEDS),
    CardScenario("5555555555554444", "mastercard", Behavior.SUCCEEDS),
    CardScenario("4000000000000002", "visa", Behavior.DECLINES, FailureCode.CARD_DECLINED),
    CardScenario("4000000000009995", "visa", Behavior.DECLINES, FailureCode.INSUFFICIENT_FUNDS),
    CardScenario("4000000000000069", "visa", Behavior.DECLINES, FailureCode.EXPIRED_CARD),
    CardScenario("4000002500003155", "visa", Behavior.AUTHENTICATES),
    CardScenario("4000000000000341", "visa", Behavior.DECLINES_AFTER_FIRST_CHARGE),
]}


def find_test_card(number: str) -> CardScenario | None:
    """The scenario of a card number (spaces allowed), or None when it is not a test card."""
    return TEST_CARDS.get(number.replace(" ", ""))
