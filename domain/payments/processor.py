"""What PaymentKit asks of a payment processor, and what a processor answers (SPEC 7).

A processor is a connector behind `Processor`: it translates these requests into one
processor's API and its answers into a `Result`; the domain decides what an answer means for a
payment (`states.py`). Every call that moves money carries our own id as its idempotency key
(`pay_…` for a charge, `re_…` for a refund), so asking again never charges twice, and `lookup`
can tell later what became of a call whose answer was lost.

A connector never raises for what the processor said or failed to say: a decline is a failed
result, a timeout or a lost connection an unknown one (never guessed). It raises only for our
own mistakes: a malformed request (ValueError), or an idempotency key reused for a different
request (Conflict).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable

from domain.currencies import is_currency
from domain.errors import invalid


class Capability(StrEnum):
    CHARGE = "charge"  # charge now, the customer present (card input or a saved method)
    SAVE_METHOD = "save_method"
    CHARGE_SAVED_OFF_SESSION = "charge_saved_off_session"  # renewals: the customer is not there
    REFUND = "refund"
    LOOKUP = "lookup"
    CANCEL = "cancel"  # give up a charge that waits for the customer (an expired session)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    REQUIRES_ACTION = "requires_action"  # the customer must authenticate at `action_url`
    FAILED = "failed"  # declined or refused: no money moved
    CANCELED = "canceled"  # given up before it completed: no money moved
    UNKNOWN = "unknown"  # no final answer (timeout, lost connection): ask `lookup`, never guess


class FailureCode(StrEnum):
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    AUTHENTICATION_FAILED = "authentication_failed"
    INVALID_CARD = "invalid_card"  # not a card this processor takes (the test processor: not a test card)
    INVALID_PAYMENT_METHOD = "invalid_payment_method"  # no such saved method for this customer
    CHARGE_NOT_REFUNDABLE = "charge_not_refundable"
    PROCESSING_ERROR = "processing_error"


# What the customer is shown next to the card field (or the merchant on a refund).
FAILURE_MESSAGES: dict[FailureCode, str] = {
    FailureCode.CARD_DECLINED: "Your card was declined.",
    FailureCode.INSUFFICIENT_FUNDS: "Your card has insufficient funds.",
    FailureCode.EXPIRED_CARD: "Your card has expired.",
    FailureCode.AUTHENTICATION_FAILED: "Your card could not be authenticated.",
    FailureCode.INVALID_CARD: "Use a test card, such as 4242 4242 4242 4242.",
    FailureCode.INVALID_PAYMENT_METHOD: "This payment method cannot be used.",
    FailureCode.CHARGE_NOT_REFUNDABLE: "This charge cannot be refunded by that amount.",
    FailureCode.PROCESSING_ERROR: "The card could not be processed. Please try again.",
}


@dataclass(frozen=True)
class CardSummary:
    """All that may ever be stored or shown of a card."""

    brand: str  # "visa", "mastercard"
    last4: str
    exp_month: int
    exp_year: int  # four digits


@dataclass(frozen=True, repr=False)
class CardInput:
    """A card as typed on the form. It lives only in memory for one request: its repr shows
    the last four digits alone, and it refuses to be pickled (into a task, a cache, a log)."""

    number: str  # digits only
    exp_month: int
    exp_year: int  # four digits
    cvc: str

    def __post_init__(self) -> None:
        # No value in these messages: they may end up in a log.
        if not re.fullmatch(r"[0-9]{12,19}", self.number):
            raise ValueError("card number must be 12 to 19 digits")
        if not re.fullmatch(r"[0-9]{3,4}", self.cvc):
            raise ValueError("cvc must be 3 or 4 digits")
        if not 1 <= self.exp_month <= 12 or not 2000 <= self.exp_year <= 9999:
            raise ValueError("expiry month or year out of range")

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def summary(self, brand: str) -> CardSummary:
        return CardSummary(brand, self.last4, self.exp_month, self.exp_year)

    def __repr__(self) -> str:
        return f"CardInput(last4={self.last4!r}, exp_month={self.exp_month}, exp_year={self.exp_year})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("card input stays in memory: it cannot be pickled")


_EXP = re.compile(r"\s*([0-9]{1,2})\s*/\s*([0-9]{2})\s*")


def read_card(card_number: str, exp: str, cvc: str, *, today: date | None = None) -> CardInput:
    """The card form's fields (`card_number` with spaces allowed, `exp` as MM/YY, `cvc`) as a
    `CardInput`; a field that is wrong is refused by name. A card is good through the last day
    of its expiry month, so this month's expiry is still in the future."""
    number = card_number.replace(" ", "")
    if not re.fullmatch(r"[0-9]{12,19}", number):
        raise invalid("card_number", "card_number must be a card number of 12 to 19 digits", "invalid_number")
    match = _EXP.fullmatch(exp)
    if match is None or not 1 <= int(match[1]) <= 12:
        raise invalid("exp", "exp must be the card's expiry date as MM/YY", "invalid_expiry")
    month, year = int(match[1]), 2000 + int(match[2])
    today = today or datetime.now(UTC).date()
    if (year, month) < (today.year, today.month):
        raise invalid("exp", "The card's expiry date is in the past.", "invalid_expiry")
    if not re.fullmatch(r"[0-9]{3,4}", cvc.strip()):
        raise invalid("cvc", "cvc must be the 3 or 4 digits on the card", "invalid_cvc")
    return CardInput(number, month, year, cvc.strip())


def _require_amount(amount_atom: int, currency: str) -> None:
    if isinstance(amount_atom, bool) or not isinstance(amount_atom, int) or amount_atom <= 0:
        raise ValueError("amount_atom must be a positive integer")
    if not is_currency(currency):
        raise ValueError("currency must be an ISO 4217 code")


def _require_one_method(card: CardInput | None, payment_method_reference: str | None) -> None:
    if (card is None) == (payment_method_reference is None):
        raise ValueError("give either card input or a payment_method_reference, not both or neither")


@dataclass(frozen=True)
class ChargeRequest:
    """Charge now, with the customer present: they may be sent to authenticate and come back
    to `return_url`."""

    idempotency_key: str  # our payment id
    amount_atom: int
    currency: str
    return_url: str
    customer_reference: str | None = None
    card: CardInput | None = None
    payment_method_reference: str | None = None  # a method saved at this processor

    def __post_init__(self) -> None:
        _require_amount(self.amount_atom, self.currency)
        _require_one_method(self.card, self.payment_method_reference)


@dataclass(frozen=True)
class SaveMethodRequest:
    """Keep a card at the processor for later off-session charges (subscription and setup
    modes). Saving may need the customer to authenticate, like a charge."""

    idempotency_key: str  # our payment method id
    customer_reference: str
    return_url: str
    card: CardInput | None = None
    payment_method_reference: str | None = None  # one the processor's own form made (Stripe.js)

    def __post_init__(self) -> None:
        _require_one_method(self.card, self.payment_method_reference)


@dataclass(frozen=True)
class OffSessionChargeRequest:
    """Charge a saved method while the customer is away (a renewal, a retry)."""

    idempotency_key: str  # our payment id
    amount_atom: int
    currency: str
    customer_reference: str
    payment_method_reference: str

    def __post_init__(self) -> None:
        _require_amount(self.amount_atom, self.currency)


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str  # our refund id
    charge_reference: str  # the processor's reference of the charge (the payment's processor_reference)
    amount_atom: int
    currency: str
    reason: str | None = None

    def __post_init__(self) -> None:
        _require_amount(self.amount_atom, self.currency)


@dataclass(frozen=True)
class Result:
    """A processor's answer. `reference` is the processor's own id of the charge, saved method
    or refund (None while the outcome is unknown)."""

    outcome: Outcome
    reference: str | None = None
    action_url: str | None = None
    failure_code: FailureCode | None = None
    failure_message: str | None = None

    allowed: ClassVar[frozenset[Outcome]] = frozenset(Outcome)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if self.outcome not in self.allowed:
            raise ValueError(f"{type(self).__name__} cannot be {self.outcome}")
        if (self.outcome is Outcome.REQUIRES_ACTION) != (self.action_url is not None):
            raise ValueError("an action_url comes with requires_action, and only with it")
        if (self.outcome is Outcome.FAILED) != (self.failure_code is not None):
            raise ValueError("a failure_code comes with failed, and only with it")
        if self.failure_message is not None and self.failure_code is None:
            raise ValueError("a failure_message comes with a failure_code")
        if self.failure_code is not None:
            code = FailureCode(self.failure_code)
            object.__setattr__(self, "failure_code", code)
            if self.failure_message is None:
                object.__setattr__(self, "failure_message", FAILURE_MESSAGES[code])


@dataclass(frozen=True)
class ChargeResult(Result):
    card: CardSummary | None = None


@dataclass(frozen=True)
class SaveMethodResult(Result):
    """On success `reference` is the saved method's reference at the processor."""

    card: CardSummary | None = None
    allowed: ClassVar[frozenset[Outcome]] = frozenset(Outcome) - {Outcome.CANCELED}


@dataclass(frozen=True)
class RefundResult(Result):
    allowed: ClassVar[frozenset[Outcome]] = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.UNKNOWN})


AnyResult = ChargeResult | SaveMethodResult | RefundResult


@runtime_checkable
class Processor(Protocol):
    """A payment processor connector. Call only what `capabilities` declares.

    Resolving an unknown outcome (the reconcile job): `lookup(key)` answers with the result the
    processor holds for our idempotency key. None means the processor proves it has no such
    call (it never arrived and cannot arrive later); then `cancel(key)` settles a charge as
    canceled for good, and the customer may try again with a new payment. A processor that
    cannot prove absence answers `lookup` with an unknown result instead, and the job asks
    again later. A retry with the same key and request returns the first call's result.
    """

    name: str
    takes_card_input: bool  # the checkout's card fields (`read_card`); False: a browser-made payment method
    capabilities: frozenset[Capability]

    def charge(self, request: ChargeRequest) -> ChargeResult: ...

    def save_method(self, request: SaveMethodRequest) -> SaveMethodResult: ...

    def charge_saved(self, request: OffSessionChargeRequest) -> ChargeResult: ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def lookup(self, idempotency_key: str) -> AnyResult | None: ...

    def cancel(self, idempotency_key: str) -> ChargeResult:
        """Give up a charge that is not final. The answer is the charge's final state:
        canceled, or succeeded / failed when the customer finished first."""
        ...
