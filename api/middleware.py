"""Per-request plumbing: the access log, the unit of work, API-key authentication, idempotency, headers."""
from __future__ import annotations

import hashlib
import logging
import time

import falcon

from api.errors import ApiError, send
from api.http import raw_body
from domain import api_keys, idempotency
from domain.accounts import find_api_key
from domain.db import UnitOfWork
from domain.ids import random_base62
from domain.queries import Owner
from runtime import logs

log = logging.getLogger("paymentkit.api")
access_log = logging.getLogger("paymentkit.access")
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE", "PUT"})


class AccessLog:
    """One JSON line per request: method, route template, status, duration and (on the line) the
    request id. The route is the template (`/api/pay/share/{secure_token}`), never the path, whose
    values are share and checkout tokens; a path that matched no route logs `null`. First in the
    middleware list, so it times everything and logs the final status."""

    def __init__(self, static_prefixes: tuple[str, ...] = ()):
        self._static_prefixes = static_prefixes

    def process_request(self, req, resp) -> None:
        req.context.started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded) -> None:
        route = req.uri_template or self._static_route(req.path)
        status = resp.status_code
        duration_ms = round((time.perf_counter() - req.context.started) * 1000, 2)
        access_log.info("%s %s %d %.2f ms", req.method, route or "(unrouted)", status, duration_ms,
                        extra={"fields": {"method": req.method, "route": route, "status": status,
                                          "duration_ms": duration_ms}})

    def _static_route(self, path: str) -> str | None:
        """Files of a static route have no template: their folder's prefix stands for them."""
        for prefix in self._static_prefixes:
            if path.startswith(prefix + "/"):
                return prefix + "/{file}"
        return None


class RequestId:
    """Every request gets an id (or keeps a sane one it came with), echoed in `X-Request-Id`,
    written on its log lines and carried into the jobs it enqueues."""

    def process_request(self, req, resp) -> None:
        given = req.get_header("X-Request-Id") or ""
        req.context.request_id = given if 8 <= len(given) <= 64 and given.replace("-", "").isalnum() else \
            "req_" + random_base62(20)
        logs.request_id.set(req.context.request_id)
        resp.set_header("X-Request-Id", req.context.request_id)


class UnitOfWorkMiddleware:
    """Opens a unit of work per request; commits a successful write, rolls back everything else.

    The response of a write made with an `Idempotency-Key` is recorded in the same commit. A
    write whose claim was committed up front (its resource `runs_own_transactions`) and that was
    refused (4xx) frees the key again; after a 5xx it stays claimed, since the write may have
    been made."""

    def __init__(self, session_factory, jobs, outbox=None, link_cache=None):
        self._session_factory = session_factory
        self._jobs = jobs
        self._outbox = outbox
        self._link_cache = link_cache

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.uow = UnitOfWork(self._session_factory, self._jobs, outbox=self._outbox,
                                     link_cache=self._link_cache)

    def process_response(self, req, resp, resource, req_succeeded: bool) -> None:
        uow: UnitOfWork | None = getattr(req.context, "uow", None)
        if uow is None:
            return
        try:
            wrote = (req.method in WRITE_METHODS and req_succeeded and not getattr(req.context, "replayed", False)
                     and not getattr(resp.context, "failed", False) and _status_code(resp) < 400)
            if wrote:
                claimed = getattr(req.context, "idempotency_key", None)
                if claimed:
                    idempotency.record(uow, req.context.owner, claimed, _status_code(resp), resp.data or b"")
                uow.commit()
            elif getattr(req.context, "claim_committed", False) and 400 <= _status_code(resp) < 500:
                self._release(req, uow)
        except Exception as error:  # the commit failed: the client must not think the write happened
            log.warning("commit failed on %s %s: %s", req.method, req.uri_template, type(error).__name__)
            send(resp, ApiError(503, "service_unavailable", "The change could not be saved; try again."))
        finally:
            uow.close()

    @staticmethod
    def _release(req, uow: UnitOfWork) -> None:
        try:
            uow.rollback()
            idempotency.release(uow, req.context.owner, req.context.idempotency_key)
            uow.commit()
        except Exception as error:  # the refusal stands; the key stays claimed until it expires
            log.warning("could not free an idempotency key on %s %s: %s", req.method, req.uri_template,
                        type(error).__name__)


def _status_code(resp: falcon.Response) -> int:
    return int(str(resp.status).split()[0])


class Authenticate:
    """A merchant route (`/api/{account_id}/...`) needs `Authorization: Bearer <key>` of that account.

    A missing or unknown key is a 401; a valid key of another account is a 404, so nobody can
    learn which account ids exist.
    """

    def process_resource(self, req, resp, resource, params) -> None:
        if resource is None or getattr(resource, "public", False) or "account_id" not in params:
            return
        header = req.get_header("Authorization") or ""
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise ApiError(401, "api_key_missing", "Send your API key as 'Authorization: Bearer sk_...'.",
                           headers={"WWW-Authenticate": 'Bearer realm="paymentkit"'})
        key = find_api_key(req.context.uow.session, presented.strip())
        if key is None:
            raise ApiError(401, "api_key_invalid", "The API key is not valid.",
                           headers={"WWW-Authenticate": 'Bearer realm="paymentkit"'})
        if key.account_id != params["account_id"]:
            raise ApiError(404, "resource_missing", f"No such account: {params['account_id']!r}")
        api_keys.mark_used(req.context.uow, key)
        req.context.owner = Owner(key.account_id, key.livemode)


class Idempotency:
    """`Idempotency-Key` on a merchant write: the first response is replayed for the same body.

    A resource that `runs_own_transactions` (and rolls the request's own back before it does)
    gets its claim committed here, in progress, so that it outlives that rollback; meanwhile a
    second request with the key is told that it is in progress (domain/idempotency.py)."""

    def __init__(self, max_body_bytes: int):
        self._max_body_bytes = max_body_bytes

    def process_resource(self, req, resp, resource, params) -> None:
        key = req.get_header("Idempotency-Key")
        owner = getattr(req.context, "owner", None)
        if key is None or owner is None or req.method not in WRITE_METHODS:
            return
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise ApiError(400, "parameter_invalid", "Idempotency-Key must be 1 to 255 printable characters.",
                           "Idempotency-Key")
        body = raw_body(req, self._max_body_bytes)
        fingerprint = hashlib.sha256(
            f"{owner.livemode}|{req.method}|{req.path}|{req.query_string}|".encode() + body).hexdigest()
        stored = idempotency.claim(req.context.uow, owner, key, fingerprint)
        if stored is None:
            req.context.idempotency_key = key
            if getattr(resource, "runs_own_transactions", False):
                req.context.uow.commit()
                req.context.claim_committed = True
            return
        req.context.replayed = True
        resp.status = stored.status
        resp.content_type = falcon.MEDIA_JSON
        resp.data = stored.body
        resp.set_header("Idempotent-Replayed", "true")
        resp.complete = True


class SecurityHeaders:
    def process_response(self, req, resp, resource, req_succeeded) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        if req.path.startswith("/api/"):
            resp.set_header("Cache-Control", "no-store")
