"""Which processor takes an account's payments in each mode, its keys (secrets encrypted at
rest), and the connector built from that choice (SPEC 7, "Processors").

Test mode takes payments through the built-in `test` processor unless the merchant chose
another; live mode takes none until a processor is chosen, and `test` cannot be chosen there.
The test processor keeps its books in its own table, written on a connection of its own (as a
real processor's books live on its side): a transaction of ours that rolls back does not undo
what the processor did.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.db import UnitOfWork, utcnow
from domain.errors import NotFound, invalid
from domain.ids import plausible_token
from domain.models import CheckoutSession, ProcessorSetting, TestProcessorOperation
from domain.payments.builtin import Faults, Kind, Operation, TestProcessor
from domain.payments.processor import CardSummary, FailureCode, Outcome, Processor
from domain.payments.stripe import StripeProcessor
from domain.payments.stripe import event_result as stripe_event_result
from domain.payments.testcards import Behavior
from domain.queries import Owner
from domain.rules import WHITESPACE, require_text

PROCESSORS = ("test", "stripe")
# What each secret of a Stripe account starts with (Stripe's own prefixes).
STRIPE_PREFIXES = {"secret_key": ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
                   "publishable_key": ("pk_live_", "pk_test_"), "webhook_secret": ("whsec_",)}
# A key is its prefix, then at least this many characters (a masked key shows four of them, so
# never a whole key), no whitespace: regular expressions Python and JSON Schema read alike
# (api/schemas.py states them).
MIN_KEY_CHARS = 8
STRIPE_KEY_PATTERNS = {param: rf"^(?:{'|'.join(prefixes)})[^{WHITESPACE}\x00]{{{MIN_KEY_CHARS},}}$"
                       for param, prefixes in STRIPE_PREFIXES.items()}


class SecretBox:
    """Encrypts processor secrets at rest (Fernet: AES-CBC with an HMAC, so a changed ciphertext
    is refused). The key is 32 bytes of the settings' encryption key, hashed."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"paymentkit-secrets:" + key).digest()))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise ValueError("a stored processor secret does not open with this encryption key") from None


def mask(secret: str | None) -> str | None:
    """`sk_test_…4242`: enough to recognise a key, never enough to use it."""
    if not secret:
        return None
    prefix = secret[: secret.index("_", 3) + 1] if secret.count("_") >= 2 else ""
    return f"{prefix}…{secret[-4:]}"


@dataclass(frozen=True)
class ProcessorChoice:
    """A mode's processor as the merchant sees it (secrets masked)."""

    livemode: bool
    processor: str | None  # None: live mode with nothing chosen, so no payments are taken
    publishable_key: str | None = None
    secret_key: str | None = None
    webhook_secret: str | None = None
    updated_at: datetime | None = None


@dataclass
class ChooseProcessor:
    processor: str
    secret_key: str | None = None
    publishable_key: str | None = None
    webhook_secret: str | None = None


def _row(uow: UnitOfWork, owner: Owner, *, lock: bool = False) -> ProcessorSetting | None:
    stmt = select(ProcessorSetting).where(ProcessorSetting.account_id == owner.account_id,
                                          ProcessorSetting.livemode == owner.livemode)
    if lock:
        stmt = stmt.with_for_update()
    return uow.session.scalars(stmt).first()


def choice(uow: UnitOfWork, owner: Owner, box: SecretBox) -> ProcessorChoice:
    row = _row(uow, owner)
    if row is None:
        return ProcessorChoice(owner.livemode, None if owner.livemode else "test")
    return ProcessorChoice(
        owner.livemode, row.processor, row.publishable_key,
        mask(box.open(row.secret_key_encrypted)) if row.secret_key_encrypted else None,
        mask(box.open(row.webhook_secret_encrypted)) if row.webhook_secret_encrypted else None, row.updated_at)


def choose(uow: UnitOfWork, owner: Owner, cmd: ChooseProcessor, box: SecretBox) -> ProcessorChoice:
    """Set the mode's processor. `test` takes no keys and is for test mode only; `stripe` needs
    all three keys, of the key's own mode."""
    if cmd.processor not in PROCESSORS:
        raise invalid("processor", "processor must be test or stripe")
    keys = {"secret_key": cmd.secret_key, "publishable_key": cmd.publishable_key,
            "webhook_secret": cmd.webhook_secret}
    if cmd.processor == "test":
        if owner.livemode:
            raise invalid("processor", "The test processor takes no real money: choose stripe for live mode.",
                          "livemode_mismatch")
        for param, value in keys.items():
            if value is not None:
                raise invalid(param, f"the test processor takes no {param}")
    else:
        mode_part = "live" if owner.livemode else "test"
        for param, value in keys.items():
            require_text(value, param)
            if not re.fullmatch(STRIPE_KEY_PATTERNS[param], value):
                raise invalid(param, f"{param} must be a Stripe key: {' or '.join(STRIPE_PREFIXES[param])} and "
                                     f"at least {MIN_KEY_CHARS} more characters, no spaces")
            if param != "webhook_secret" and f"_{mode_part}_" not in value[:8]:
                raise invalid(param, f"this is a {mode_part}-mode setting: use your Stripe {mode_part} {param}",
                              "livemode_mismatch")
    now = utcnow()
    row = _row(uow, owner, lock=True)
    if row is None:
        row = ProcessorSetting(account_id=owner.account_id, livemode=owner.livemode, created_at=now)
        uow.session.add(row)
    row.processor = cmd.processor
    row.publishable_key = cmd.publishable_key
    row.secret_key_encrypted = box.seal(cmd.secret_key) if cmd.secret_key else None
    row.webhook_secret_encrypted = box.seal(cmd.webhook_secret) if cmd.webhook_secret else None
    row.updated_at = now
    uow.session.flush()
    return choice(uow, owner, box)


@dataclass
class Processors:
    """Builds the connector that takes an owner's payments: what the web and the workers are
    handed. `stripe_api_base` (STRIPE_API_BASE) is where the stripe connector calls, None for
    Stripe itself; `stripe_js_url` (STRIPE_JS_URL) the Stripe.js the hosted page loads. `faults`
    makes the test processor misbehave (tests only; none by default)."""

    engine: Engine
    box: SecretBox
    checkout_base_url: str
    stripe_api_base: str | None
    stripe_js_url: str
    faults: Faults = field(default_factory=Faults)

    def challenge_url(self) -> str:
        """Where the test processor's challenge page is served (by api/checkout)."""
        return f"{self.checkout_base_url}/checkout/challenge"

    def for_owner(self, uow: UnitOfWork, owner: Owner) -> Processor | None:
        """The connector of the owner's chosen processor; None when it takes no payments."""
        return self._chosen(_row(uow, owner), owner.livemode)

    def for_checkout(self, uow: UnitOfWork, checkout_token: str) -> Processor | None:
        """The connector of the processor of the owner of the checkout session the token opens, in
        one read (the session joined to its owner's setting); None when it takes no payments.
        NotFound when the token opens no session."""
        if not plausible_token(checkout_token):
            raise NotFound("No such checkout session")
        cs, ps = CheckoutSession, ProcessorSetting
        row = uow.session.execute(
            select(cs.livemode, ps.processor, ps.secret_key_encrypted)
            .outerjoin(ps, (ps.account_id == cs.account_id) & (ps.livemode == cs.livemode))
            .where(cs.checkout_token == checkout_token)).first()
        if row is None:
            raise NotFound("No such checkout session")
        setting = row if row.processor is not None else None  # processor is never NULL in a stored setting
        return self._chosen(setting, row.livemode)

    def _chosen(self, setting, livemode: bool) -> Processor | None:
        """The connector of an owner's setting row; with none, the test processor in test mode and
        nothing in live mode."""
        return self._connect(setting, setting.processor if setting else (None if livemode else "test"), livemode)

    @staticmethod
    def translator(name: str):
        """How a processor's notification becomes (our key, result): its connector's translation."""
        if name != "stripe":
            raise ValueError(f"{name!r} sends no notifications")
        return stripe_event_result

    def stripe_webhook_secret(self, uow: UnitOfWork, owner: Owner) -> str | None:
        """The signing secret of the owner's Stripe webhook endpoint, when stripe is chosen."""
        row = _row(uow, owner)
        if row is None or row.processor != "stripe" or not row.webhook_secret_encrypted:
            return None
        return self.box.open(row.webhook_secret_encrypted)

    def for_processor(self, uow: UnitOfWork, owner: Owner, name: str) -> Processor | None:
        """The connector of the processor that took a payment (`payment.processor`), whatever the
        owner has chosen since: a payment is reconciled and refunded where it was made. None when
        its keys are gone (the merchant removed that processor)."""
        return self._connect(_row(uow, owner), name, owner.livemode)

    def _connect(self, row: ProcessorSetting | None, name: str | None, livemode: bool) -> Processor | None:
        """The connector `name`, with the stripe secret key of the owner's row (one read, the key
        opened only when stripe is both asked for and chosen there)."""
        stripe_chosen = row is not None and row.processor == "stripe" and row.secret_key_encrypted
        secret_key = self.box.open(row.secret_key_encrypted) if name == "stripe" and stripe_chosen else None
        return self.named(name, livemode, secret_key)

    def named(self, name: str | None, livemode: bool, secret_key: str | None = None) -> Processor | None:
        """`secret_key`: the stripe account's, decrypted (stripe needs it, the others take none)."""
        if name == "test" and not livemode:
            return self.test_processor()
        if name == "stripe" and secret_key:
            return StripeProcessor(secret_key, api_base=self.stripe_api_base)
        return None  # live mode with nothing chosen

    def test_processor(self) -> TestProcessor:
        return TestProcessor(SqlOperationStore(self.engine), challenge_url=self.challenge_url(), faults=self.faults)


# ---- the test processor's books -------------------------------------------------------------

_OP = TestProcessorOperation


def _to_row(op: Operation) -> dict[str, Any]:
    return {
        "idempotency_key": op.idempotency_key, "kind": op.kind.value, "reference": op.reference,
        "outcome": op.outcome.value, "amount_atom": op.amount_atom, "currency": op.currency,
        "customer_reference": op.customer_reference, "payment_method_reference": op.payment_method_reference,
        "charge_reference": op.charge_reference, "off_session": op.off_session,
        "card": vars(op.card) if op.card else None, "behavior": op.behavior.value if op.behavior else None,
        "failure_code": op.failure_code.value if op.failure_code else None, "challenge_id": op.challenge_id,
        "return_url": op.return_url, "never_submitted": op.never_submitted,
    }


def _to_operation(row) -> Operation | None:
    if row is None:
        return None
    return Operation(
        row.idempotency_key, Kind(row.kind), row.reference, Outcome(row.outcome), row.amount_atom, row.currency,
        row.customer_reference, row.payment_method_reference, row.charge_reference, row.off_session,
        CardSummary(**row.card) if row.card else None, Behavior(row.behavior) if row.behavior else None,
        FailureCode(row.failure_code) if row.failure_code else None, row.challenge_id, row.return_url,
        row.never_submitted)


# Built once, the row passed as parameters (as checkout_sessions.store does): `.values(**row)`
# for each call cost more CPU than the round trip.
_ADD = (pg_insert(_OP.__table__).on_conflict_do_nothing(index_elements=[_OP.__table__.c.idempotency_key])
        .returning(*_OP.__table__.c))


class SqlOperationStore:
    """The test processor's `OperationStore` in PostgreSQL, each call on its own autocommitted
    connection: the first `add` of a key wins (INSERT ... ON CONFLICT DO NOTHING), and only an
    operation still waiting for its challenge is `resolve`d (a guarded UPDATE)."""

    def __init__(self, engine: Engine):
        # Autocommitted: every call is one statement, so a BEGIN and a COMMIT around it would be
        # two round trips for nothing.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _one(self, condition) -> Operation | None:
        with self._engine.connect() as conn:
            return _to_operation(conn.execute(select(_OP.__table__).where(condition)).first())

    def get(self, idempotency_key: str) -> Operation | None:
        return self._one(_OP.idempotency_key == idempotency_key)

    def get_by_reference(self, reference: str) -> Operation | None:
        return self._one(_OP.reference == reference)

    def get_by_challenge(self, challenge_id: str) -> Operation | None:
        return self._one(_OP.challenge_id == challenge_id)

    def add(self, operation: Operation) -> Operation:
        """The row written comes back (RETURNING), so only a key already taken is read again."""
        with self._engine.begin() as conn:
            written = conn.execute(_ADD, {**_to_row(operation), "created_at": utcnow()}).first()
        return _to_operation(written) if written is not None else self.get(operation.idempotency_key)

    def resolve(self, operation: Operation) -> Operation:
        values = _to_row(operation)
        del values["idempotency_key"]
        with self._engine.begin() as conn:
            conn.execute(update(_OP).where(_OP.idempotency_key == operation.idempotency_key,
                                           _OP.outcome == Outcome.REQUIRES_ACTION.value).values(**values))
        return self.get(operation.idempotency_key)

    def succeeded_charges(self, payment_method_reference: str) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.count()).where(
                _OP.kind == Kind.CHARGE.value, _OP.outcome == Outcome.SUCCEEDED.value,
                _OP.payment_method_reference == payment_method_reference)).scalar_one()

    def refunded_atom(self, charge_reference: str) -> int:
        with self._engine.connect() as conn:
            return conn.execute(select(func.coalesce(func.sum(_OP.amount_atom), 0)).where(
                _OP.kind == Kind.REFUND.value, _OP.outcome == Outcome.SUCCEEDED.value,
                _OP.charge_reference == charge_reference)).scalar_one()


