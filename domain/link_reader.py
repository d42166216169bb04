"""The share path's one read: a link by its secure token, with the current state of everything
it sells, as a typed `ShareLink` for `checkout_sessions.new_session`.

It runs on the driver over each thread's own autocommit connection: SQLAlchemy's execution
layer, the pool's checkout and its pre-ping round trip were half the share endpoint's CPU
(bench/README.md), and a single read needs no BEGIN/ROLLBACK.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from domain.errors import Unavailable
from domain.ids import plausible_token

# One round trip: the link by its token, with the current state of everything it sells. The prices
# are found by primary key (`id = ANY(ARRAY(...))`): two `IN` subqueries joined by OR scanned every
# price of the account, 2.5 ms per open with 5,000 prices instead of 0.16 ms (bench/README.md).
# Each price brings its product's name, joined by the product's primary key, and each package its
# name: what the customer reads at checkout, in the same round trip.
# The columns come in the order of ShareLink's fields.
_LINK_BY_TOKEN = text("""
SELECT l.id, l.account_id, l.livemode, l.mode, l.is_active, l.line_items, l.package_ids, l.customer_id,
       l.coupon_id, l.free_trial_days, l.success_url, l.return_url, l.expires_in_hours, l.allow_cart_edit,
       l.accepted_payment_methods, l.currency,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'id', p.id, 'active', p.active, 'unit_amount_atom', p.unit_amount_atom, 'currency', p.currency,
                   'type', p.type, 'interval', p.interval, 'interval_count', p.interval_count,
                   'product_name', pr.name)), '[]'::jsonb)
          FROM prices p JOIN products pr ON pr.id = p.product_id
         WHERE p.id = ANY(ARRAY(SELECT item->>'price_id' FROM jsonb_array_elements(l.line_items) AS item
                                UNION ALL
                                SELECT unnest(pk.price_ids) FROM packages pk WHERE pk.id = ANY(l.package_ids)))
           AND p.account_id = l.account_id AND p.livemode = l.livemode
       ) AS prices,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('id', pk.id, 'active', pk.active, 'name', pk.name,
                                                     'price_ids', pk.price_ids)), '[]'::jsonb)
          FROM packages pk
         WHERE pk.id = ANY(l.package_ids) AND pk.account_id = l.account_id AND pk.livemode = l.livemode
       ) AS packages,
       (SELECT jsonb_build_object('id', c.id, 'active', c.active, 'percent_off', c.percent_off::text,
                   'amount_off_atom', c.amount_off_atom, 'redeem_by', c.redeem_by,
                   'max_redemptions', c.max_redemptions, 'times_redeemed', c.times_redeemed)
          FROM coupons c
         WHERE c.id = l.coupon_id AND c.account_id = l.account_id AND c.livemode = l.livemode
       ) AS coupon
  FROM payment_links l
 WHERE l.secure_token = :token
""")


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A link as the share path sees it: its settings, and the prices (with their product's
    name), packages (with their name) and coupon it sells as they are now (JSON objects, with
    `active` and, for the coupon, its redemptions)."""

    id: str
    account_id: str
    livemode: bool
    mode: str
    is_active: bool
    line_items: list[dict[str, Any]]
    package_ids: list[str] | None
    customer_id: str | None
    coupon_id: str | None
    free_trial_days: int | None
    success_url: str | None
    return_url: str | None
    expires_in_hours: int
    allow_cart_edit: bool
    accepted_payment_methods: list[str] | None
    currency: str | None
    prices: list[dict[str, Any]]
    packages: list[dict[str, Any]]
    coupon: dict[str, Any] | None


class LinkReader:
    """Engine in, `ShareLink` out. Each thread keeps one connection made by the engine (its URL,
    connect arguments and events), taken out of the pool for good. A connection found broken
    (PostgreSQL restarted) is replaced and the read tried once more; PostgreSQL out of reach is
    `Unavailable`."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._sql = str(_LINK_BY_TOKEN.compile(dialect=engine.dialect))
        self._broken = engine.dialect.loaded_dbapi.OperationalError
        self._local = threading.local()  # one connection per thread (gthread workers have several)

    def find(self, secure_token: str) -> ShareLink | None:
        if not plausible_token(secure_token):
            return None
        held = getattr(self._local, "connection", None)
        try:
            try:
                return self._read(held or self._connect(), secure_token)
            except self._broken:
                self._drop_connection()
                if held is None:
                    raise
            return self._read(self._connect(), secure_token)
        except self._broken:
            self._drop_connection()
            raise Unavailable("The database is out of reach.") from None

    def _read(self, connection, secure_token: str) -> ShareLink | None:
        with connection.cursor() as cursor:
            row = cursor.execute(self._sql, {"token": secure_token}).fetchone()
        return ShareLink(*row) if row is not None else None

    def _connect(self):
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        connection.autocommit = True
        self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Close this thread's connection (tests, benches)."""
        self._drop_connection()
