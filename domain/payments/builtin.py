"""The built-in `test` processor (SPEC 7): a card processor that needs no account, for test
mode only. It answers like a real one on the test cards of testcards.py.

It keeps its own books behind `OperationStore`: one `Operation` per idempotency key, holding
the request and its result. Asking again with a key returns what the key holds (the first call
wins, and is the only one that charges); the same key with a different request is a Conflict.
`lookup` reads the books, so it tells what really happened to a call whose answer was lost.
`Faults` makes it misbehave for tests (latency, lost calls, lost answers, errors); it is off
by default.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Protocol

from domain.errors import Conflict, NotFound, invalid
from domain.ids import new_id, new_url_token
from domain.payments.processor import (
    FAILURE_MESSAGES, AnyResult, Capability, CardInput, CardSummary, ChargeRequest, ChargeResult,
    FailureCode, OffSessionChargeRequest, Outcome, RefundRequest, RefundResult, SaveMethodRequest,
    SaveMethodResult,
)
from domain.payments.processor import read_card as read_card_fields
from domain.payments.testcards import Behavior, find_test_card


class Kind(StrEnum):
    CHARGE = "charge"
    SAVE_METHOD = "save_method"
    REFUND = "refund"


@dataclass(frozen=True)
class Operation:
    """One call the test processor took, under our idempotency key: what was asked, and the
    answer. A saved method is the SAVE_METHOD operation that succeeded; its reference is the
    method's reference. No card number or CVC: the card is its summary and its behavior."""

    idempotency_key: str
    kind: Kind
    reference: str | None  # ch_test_…, card_test_…, rf_test_…
    outcome: Outcome  # never UNKNOWN: these are the processor's own books
    amount_atom: int = 0
    currency: str | None = None
    customer_reference: str | None = None
    payment_method_reference: str | None = None  # the saved method a charge used
    charge_reference: str | None = None  # the charge a refund gives back
    off_session: bool = False
    card: CardSummary | None = None
    behavior: Behavior | None = None
    failure_code: FailureCode | None = None
    challenge_id: str | None = None  # set when the call needed the customer's challenge
    return_url: str | None = None
    never_submitted: bool = False  # canceled before any charge arrived with this key

    def request(self) -> tuple:
        """What was asked, to tell a retry from a different request under the same key."""
        return (self.kind, self.amount_atom, self.currency, self.customer_reference,
                self.payment_method_reference, self.charge_reference, self.off_session, self.card)


class OperationStore(Protocol):
    """The test processor's books. A database-backed store keeps them in one table, unique on
    idempotency_key, reference and challenge_id, and makes `add` and `resolve` atomic (an
    INSERT … ON CONFLICT DO NOTHING, an UPDATE … WHERE outcome = 'requires_action'), so that
    racing calls agree on one answer."""

    def get(self, idempotency_key: str) -> Operation | None: ...

    def get_by_reference(self, reference: str) -> Operation | None: ...

    def get_by_challenge(self, challenge_id: str) -> Operation | None: ...

    def add(self, operation: Operation) -> Operation:
        """Keep `operation` unless its key is taken; return what the key holds (first wins)."""
        ...

    def resolve(self, operation: Operation) -> Operation:
        """Replace the operation under the same key if that one still requires action; return
        what the key holds (the first answer to a challenge wins)."""
        ...

    def succeeded_charges(self, payment_method_reference: str) -> int:
        """How many charges of this saved method succeeded."""
        ...

    def refunded_atom(self, charge_reference: str) -> int:
        """The sum of this charge's refunds that succeeded."""
        ...


class MemoryOperationStore:
    """An OperationStore in a dict, for unit tests and single-process use."""

    def __init__(self) -> None:
        self._by_key: dict[str, Operation] = {}
        self._lock = threading.Lock()

    def operations(self) -> list[Operation]:
        with self._lock:
            return list(self._by_key.values())

    def get(self, idempotency_key: str) -> Operation | None:
        with self._lock:
            return self._by_key.get(idempotency_key)

    def get_by_reference(self, reference: str) -> Operation | None:
        return next((op for op in self.operations() if op.reference == reference), None)

    def get_by_challenge(self, challenge_id: str) -> Operation | None:
        return next((op for op in self.operations() if op.challenge_id == challenge_id), None)

    def add(self, operation: Operation) -> Operation:
        with self._lock:
            return self._by_key.setdefault(operation.idempotency_key, operation)

    def resolve(self, operation: Operation) -> Operation:
        with self._lock:
            if self._by_key[operation.idempotency_key].outcome is Outcome.REQUIRES_ACTION:
                self._by_key[operation.idempotency_key] = operation
            return self._by_key[operation.idempotency_key]

    def succeeded_charges(self, payment_method_reference: str) -> int:
        return sum(1 for op in self.operations() if op.kind is Kind.CHARGE and op.outcome is Outcome.SUCCEEDED
                   and op.payment_method_reference == payment_method_reference)

    def refunded_atom(self, charge_reference: str) -> int:
        return sum(op.amount_atom for op in self.operations() if op.kind is Kind.REFUND
                   and op.outcome is Outcome.SUCCEEDED and op.charge_reference == charge_reference)


class TimeoutAt(StrEnum):
    BEFORE = "before"  # the call is lost on its way: nothing happened
    AFTER = "after"  # the answer is lost on its way back: the call did happen


@dataclass(frozen=True)
class Faults:
    """Misbehaviour for tests; none by default. Timeouts and errors hit the calls that change
    something (an error does not hit `cancel`); `lookup` only waits out the latency, so that a
    reconcile job can always learn the truth. `kinds` narrows them to some calls (a subscription
    checkout's card saved fine, its charge's answer lost)."""

    latency_seconds: float = 0.0
    timeout: TimeoutAt | None = None  # the caller gets an unknown outcome
    error: bool = False  # the processor fails the call with processing_error; nothing is charged
    kinds: frozenset[Kind] = frozenset(Kind)  # the calls the timeout and error hit


@dataclass(frozen=True)
class Challenge:
    """What the test processor's challenge page shows, and where it sends the customer after."""

    challenge_id: str
    kind: Kind
    amount_atom: int
    currency: str | None
    card: CardSummary | None
    return_url: str | None
    result: ChargeResult | SaveMethodResult

    @property
    def open(self) -> bool:
        return self.result.outcome is Outcome.REQUIRES_ACTION


class TestProcessor:
    """The `test` processor. `challenge_url` is where our app serves its challenge page: a
    charge that needs authentication answers `{challenge_url}/{challenge_id}` as action_url."""

    __test__ = False  # a processor, not a pytest test class

    name = "test"
    takes_card_input = True  # the page's own card fields (read_card)
    capabilities = frozenset(Capability)

    def __init__(self, store: OperationStore, *, challenge_url: str, livemode: bool = False,
                 faults: Faults = Faults(), sleep: Callable[[float], None] = time.sleep):
        if livemode:
            raise invalid("processor", "The test processor works in test mode only; choose stripe for live mode.")
        self.faults = faults
        self._store = store
        self._challenge_url = challenge_url.rstrip("/")
        self._sleep = sleep

    def read_card(self, card_number: str, exp: str, cvc: str, *, today: date | None = None) -> CardInput:
        """The card form, refused field by field: anything but a test card is refused before
        any payment is made."""
        if find_test_card(card_number) is None:
            raise invalid("card_number", FAILURE_MESSAGES[FailureCode.INVALID_CARD], "invalid_card")
        return read_card_fields(card_number, exp, cvc, today=today)

    def charge(self, request: ChargeRequest) -> ChargeResult:
        return self._call(lambda: self._charge(
            request, card=request.card, return_url=request.return_url, off_session=False))

    def charge_saved(self, request: OffSessionChargeRequest) -> ChargeResult:
        return self._call(lambda: self._charge(
            request, card=None, return_url=None, off_session=True))

    def save_method(self, request: SaveMethodRequest) -> SaveMethodResult:
        return self._call(lambda: self._save(request))

    def refund(self, request: RefundRequest) -> RefundResult:
        return self._call(lambda: self._refund(request))

    def lookup(self, idempotency_key: str) -> AnyResult | None:
        """What the key holds; None when no call with it ever arrived (and none is on its way:
        this processor answers every call before it returns), which `cancel` can make final."""
        self._wait()
        operation = self._store.get(idempotency_key)
        return None if operation is None else self._result(operation)

    def cancel(self, idempotency_key: str) -> ChargeResult:
        self._wait()
        timeout = self.faults.timeout if Kind.CHARGE in self.faults.kinds else None
        if timeout is TimeoutAt.BEFORE:
            return ChargeResult(Outcome.UNKNOWN)
        # A key no charge has used yet is taken for good, so a late charge with it cannot happen.
        tombstone = Operation(idempotency_key, Kind.CHARGE, None, Outcome.CANCELED, never_submitted=True)
        operation = self._store.add(tombstone)
        if operation.kind is not Kind.CHARGE:
            raise Conflict("This idempotency key belongs to another kind of call.", code="idempotency_key_reused")
        if operation.outcome is Outcome.REQUIRES_ACTION:
            operation = self._store.resolve(replace(operation, outcome=Outcome.CANCELED))
        if timeout is TimeoutAt.AFTER:
            return ChargeResult(Outcome.UNKNOWN)
        return self._result(operation)

    def challenge(self, challenge_id: str) -> Challenge | None:
        operation = self._store.get_by_challenge(challenge_id)
        return None if operation is None else self._challenge(operation)

    def answer_challenge(self, challenge_id: str, *, authorize: bool) -> Challenge:
        """The customer's Authorize or Fail. Only the first answer counts."""
        operation = self._store.get_by_challenge(challenge_id)
        if operation is None:
            raise NotFound("No such challenge.", param="challenge_id")
        if operation.outcome is Outcome.REQUIRES_ACTION:
            if authorize:
                answered = replace(operation, outcome=Outcome.SUCCEEDED)
            else:
                answered = replace(operation, outcome=Outcome.FAILED, failure_code=FailureCode.AUTHENTICATION_FAILED)
            operation = self._store.resolve(answered)
        return self._challenge(operation)

    def _call(self, decide: Callable[[], Operation]) -> AnyResult:
        """One call that changes something: faults, then the key's first answer."""
        self._wait()
        fresh = decide()
        faults = self.faults if fresh.kind in self.faults.kinds else Faults()
        if faults.timeout is TimeoutAt.BEFORE:
            return self._unknown(fresh.kind)
        if faults.error:
            fresh = replace(fresh, outcome=Outcome.FAILED, failure_code=FailureCode.PROCESSING_ERROR, challenge_id=None)
        operation = self._store.add(fresh)
        if operation.kind is not fresh.kind or not (operation.never_submitted or operation.request() == fresh.request()):
            raise Conflict("This idempotency key was already used with a different request.",
                           code="idempotency_key_reused")
        if faults.timeout is TimeoutAt.AFTER:
            return self._unknown(fresh.kind)
        return self._result(operation)

    def _charge(self, request: ChargeRequest | OffSessionChargeRequest, *, card: CardInput | None,
                return_url: str | None, off_session: bool) -> Operation:
        charge = Operation(request.idempotency_key, Kind.CHARGE, new_id("ch", False), Outcome.SUCCEEDED,
                           request.amount_atom, request.currency, request.customer_reference,
                           payment_method_reference=request.payment_method_reference, off_session=off_session,
                           return_url=return_url)
        if card is not None:
            return self._decide_card(charge, card)
        method = self._store.get_by_reference(request.payment_method_reference)
        if (method is None or method.kind is not Kind.SAVE_METHOD or method.outcome is not Outcome.SUCCEEDED
                or method.customer_reference != request.customer_reference):
            return _failed(charge, FailureCode.INVALID_PAYMENT_METHOD)
        charge = replace(charge, card=method.card, behavior=method.behavior)
        if method.behavior is Behavior.AUTHENTICATES and not off_session:
            return self._needs_challenge(charge)  # on-session charges always authenticate
        if (method.behavior is Behavior.DECLINES_AFTER_FIRST_CHARGE and off_session
                and self._store.succeeded_charges(method.reference) > 0):
            return _failed(charge, FailureCode.CARD_DECLINED)
        return charge

    def _save(self, request: SaveMethodRequest) -> Operation:
        if request.card is None:
            raise ValueError("the test processor saves cards typed on its form, not references")
        method = Operation(request.idempotency_key, Kind.SAVE_METHOD, new_id("card", False), Outcome.SUCCEEDED,
                           customer_reference=request.customer_reference, return_url=request.return_url)
        return self._decide_card(method, request.card)

    def _decide_card(self, operation: Operation, card: CardInput) -> Operation:
        """A charge or a save of card input: on-session, so a 3155 card is challenged."""
        scenario = find_test_card(card.number)
        if scenario is None:
            return _failed(operation, FailureCode.INVALID_CARD)
        operation = replace(operation, card=card.summary(scenario.brand), behavior=scenario.behavior)
        if scenario.behavior is Behavior.DECLINES:
            return _failed(operation, scenario.failure_code)
        if scenario.behavior is Behavior.AUTHENTICATES:
            return self._needs_challenge(operation)
        return operation

    def _refund(self, request: RefundRequest) -> Operation:
        refund = Operation(request.idempotency_key, Kind.REFUND, new_id("rf", False), Outcome.SUCCEEDED,
                           request.amount_atom, request.currency, charge_reference=request.charge_reference)
        charge = self._store.get_by_reference(request.charge_reference)
        if (charge is None or charge.kind is not Kind.CHARGE or charge.outcome is not Outcome.SUCCEEDED
                or charge.currency != request.currency
                or request.amount_atom > charge.amount_atom - self._store.refunded_atom(charge.reference)):
            return _failed(refund, FailureCode.CHARGE_NOT_REFUNDABLE)
        return refund

    def _needs_challenge(self, operation: Operation) -> Operation:
        return replace(operation, outcome=Outcome.REQUIRES_ACTION, challenge_id=new_url_token())

    def _wait(self) -> None:
        if self.faults.latency_seconds > 0:
            self._sleep(self.faults.latency_seconds)

    def _unknown(self, kind: Kind) -> AnyResult:
        return _RESULT_TYPES[kind](Outcome.UNKNOWN)

    def _result(self, operation: Operation) -> AnyResult:
        action_url = None
        if operation.outcome is Outcome.REQUIRES_ACTION:
            action_url = f"{self._challenge_url}/{operation.challenge_id}"
        fields = dict(outcome=operation.outcome, reference=operation.reference, action_url=action_url,
                      failure_code=operation.failure_code)
        if operation.kind is Kind.REFUND:
            return RefundResult(**fields)
        return _RESULT_TYPES[operation.kind](**fields, card=operation.card)

    def _challenge(self, operation: Operation) -> Challenge:
        return Challenge(operation.challenge_id, operation.kind, operation.amount_atom, operation.currency,
                         operation.card, operation.return_url, self._result(operation))


_RESULT_TYPES = {Kind.CHARGE: ChargeResult, Kind.SAVE_METHOD: SaveMethodResult, Kind.REFUND: RefundResult}


def _failed(operation: Operation, code: FailureCode) -> Operation:
    return replace(operation, outcome=Outcome.FAILED, failure_code=code)
