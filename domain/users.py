"""Dashboard users (email + Argon2 password hash) and their signed-in web sessions.

A web session is found by the SHA-256 of the random token in its cookie, so a copy of the table
never lets anyone act as a user; each carries its own CSRF token and lasts 12 hours.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from domain.db import UnitOfWork, utcnow
from domain.errors import Conflict, InvalidRequest, NotFound, invalid
from domain.ids import hash_secret, random_base62
from domain.models import Account, User, WebSession
from domain.rules import require_email

PASSWORD_MIN_CHARS = 10
PASSWORD_MAX_CHARS = 1024  # hashing is deliberately slow: cap the work one request can ask for
SESSION_LIFETIME = timedelta(hours=12)
log = logging.getLogger("paymentkit.users")

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 50 ms a hash on an idle
# core, so sign-in stays quick on a 2-core web host. Hashes made with other parameters are
# re-hashed with these at the next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both answers take the same time."""
    return _hasher.hash(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_key(email: str) -> str:
    """Names an email without showing it (in log lines and rate-limit keys): its SHA-256, shortened."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]


def check_password(password: str | None, param: str = "password") -> None:
    if password is None or len(password) < PASSWORD_MIN_CHARS:
        raise invalid(param, f"the password must be at least {PASSWORD_MIN_CHARS} characters")
    if len(password) > PASSWORD_MAX_CHARS:
        raise invalid(param, f"the password must be at most {PASSWORD_MAX_CHARS} characters")


def create_user(uow: UnitOfWork, account_id: str, email: str, password: str) -> User:
    require_email(email)
    check_password(password)
    if uow.session.get(Account, account_id) is None:
        raise invalid("account", f"No such account: {account_id!r}", "resource_missing")
    email = normalize_email(email)
    taken = invalid("email", f"a user with the email {email} already exists", "email_taken")
    if uow.session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise taken
    user = User(id=f"usr_{random_base62(20)}", account_id=account_id, email=email,
                password_hash=_hasher.hash(password), created_at=utcnow())
    uow.session.add(user)
    try:
        with uow.session.begin_nested():
            uow.session.flush()
    except IntegrityError:  # made by someone else between the check and the insert
        raise taken from None
    return user


def authenticate(uow: UnitOfWork, email: str, password: str) -> User | None:
    """The user whose email and password these are, or None (the same for either mistake)."""
    if not email or not password or len(password) > PASSWORD_MAX_CHARS:
        _log_failed_sign_in(email or "", "incomplete")
        return None
    user = uow.session.scalars(select(User).where(User.email == normalize_email(email))).first()
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        _log_failed_sign_in(email, "wrong_password" if user else "unknown_email")
        return None
    if user is None:
        _log_failed_sign_in(email, "unknown_email")
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        uow.session.flush()
    return user


def _log_failed_sign_in(email: str, reason: str) -> None:
    """For the operator: why, and which email by its hash and domain; never the email or password."""
    domain = normalize_email(email).rpartition("@")[2] if "@" in email else None
    log.warning("dashboard sign-in failed: %s", reason,
                extra={"fields": {"reason": reason, "email_hash": email_key(email) if email else None,
                                  "email_domain": domain}})


@dataclass(frozen=True)
class SignedIn:
    token: str  # goes into the cookie; only its hash is stored
    web_session: WebSession


def start_session(uow: UnitOfWork, user: User, livemode: bool = False, now: datetime | None = None) -> SignedIn:
    now = now or utcnow()
    uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    web_session = WebSession(id=hash_secret(token), user_id=user.id, livemode=livemode,
                             csrf_token=secrets.token_urlsafe(32), created_at=now, expires_at=now + SESSION_LIFETIME)
    uow.session.add(web_session)
    uow.session.flush()
    return SignedIn(token, web_session)


def find_session(uow: UnitOfWork, token: str, now: datetime | None = None) -> tuple[WebSession, User] | None:
    """The unexpired session of this cookie token, with its user; None otherwise."""
    web_session = uow.session.get(WebSession, hash_secret(token))
    if web_session is None or web_session.expires_at <= (now or utcnow()):
        return None
    return web_session, uow.session.get(User, web_session.user_id)


def end_session(uow: UnitOfWork, token: str) -> None:
    uow.session.execute(delete(WebSession).where(WebSession.id == hash_secret(token)))


def set_mode(uow: UnitOfWork, web_session: WebSession, livemode: bool) -> None:
    """The live/test switch: what the dashboard shows and makes, like a live or test API key."""
    web_session.livemode = livemode
    uow.session.flush()


# ---- an account's users (the dashboard's Settings → Users) ---------------------------------

def of_account(uow: UnitOfWork, account_id: str) -> list[User]:
    return list(uow.session.scalars(select(User).where(User.account_id == account_id)
                                    .order_by(User.created_at, User.id)))


def get_user(uow: UnitOfWork, account_id: str, user_id: str) -> User:
    found = uow.session.scalars(select(User).where(User.id == user_id, User.account_id == account_id)).first() \
        if isinstance(user_id, str) and len(user_id) <= 64 else None
    if found is None:
        raise NotFound(f"No such user: {user_id!r}")
    return found


def remove_user(uow: UnitOfWork, account_id: str, user_id: str, acting: User) -> None:
    """Another user of the account: gone with their sessions (signed out at once). A user does not
    remove themselves, so an account always keeps the one who is signed in."""
    user = get_user(uow, account_id, user_id)
    if user.id == acting.id:
        raise Conflict("you cannot remove yourself; ask another user of the account", code="remove_self")
    uow.session.delete(user)
    uow.session.flush()


def change_password(uow: UnitOfWork, user: User, current: str, new: str, repeated: str,
                    keep_session: str | None = None) -> None:
    """Every error at once, each naming its field; other sessions of the user end (keep_session:
    the token hash of the one making the change)."""
    errors: dict[str, str] = {}
    try:
        _hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        errors["current_password"] = "the current password is wrong"
    try:
        check_password(new, "new_password")
    except InvalidRequest as bad:
        errors["new_password"] = bad.message
    if "new_password" not in errors and new != repeated:
        errors["repeat_password"] = "the two new passwords differ"
    if errors:
        raise FormErrors(errors)
    user.password_hash = _hasher.hash(new)
    uow.session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.id != keep_session))
    uow.session.flush()


class FormErrors(InvalidRequest):
    """Several fields wrong at once: `errors` maps each to its message."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(errors[first], param=first)
        self.errors = errors
