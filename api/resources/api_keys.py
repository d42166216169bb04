"""The account's API keys (SPEC 10): list (prefix and last four, mode, created, last used), add
one (`mode` live or test, by default the calling key's; the secret shown once) and revoke one (at
once; an account keeps at least one key). A live key manages every key of the account, a test key
only test keys (domain/api_keys.py says why). The rules are the domain's (domain/api_keys.py), which
the dashboard's Settings → API keys page uses too."""
from __future__ import annotations

import msgspec

from api import schemas
from api.http import read_json, respond
from api.openapi import Operation
from domain import api_keys
from domain.ids import mode_name
from domain.models import ApiKey


def api_key(key: ApiKey, secret: str | None = None) -> schemas.ApiKeyOut:
    fields = dict(id=key.id, mode=mode_name(key.livemode), livemode=key.livemode, prefix=api_keys.prefix_of(key),
                  last4=key.last4, created_at=key.created_at, last_used_at=key.last_used_at)
    return schemas.ApiKeySecretOut(**fields, secret=secret) if secret else schemas.ApiKeyOut(**fields)


class Collection:
    list_shape = schemas.list_of(schemas.ApiKeyOut)

    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def on_get(self, req, resp, account_id: str) -> None:
        owner = req.context.owner
        keys = api_keys.active(req.context.uow, owner.account_id, owner.livemode)
        respond(resp, self.list_shape(data=[api_key(k) for k in keys], has_more=False))

    def on_post(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.ApiKeyCreate, self.max_body_bytes)  # {}: a key of the calling key's mode
        mode = mode_name(req.context.owner.livemode) if body.mode is msgspec.UNSET else body.mode
        made = api_keys.create(req.context.uow, req.context.owner.account_id, mode,
                               caller_livemode=req.context.owner.livemode)
        respond(resp, api_key(made.record, made.secret))


class Item:
    def on_get(self, req, resp, account_id: str, key_id: str) -> None:
        owner = req.context.owner
        respond(resp, api_key(api_keys.get(req.context.uow, owner.account_id, key_id, owner.livemode)))

    def on_delete(self, req, resp, account_id: str, key_id: str) -> None:
        owner = req.context.owner
        gone = api_keys.revoke(req.context.uow, owner.account_id, key_id, caller_livemode=owner.livemode)
        respond(resp, schemas.DeletedOut(id=gone.id, object="api_key", deleted=True))


def add_routes(app, max_body_bytes: int) -> list[Operation]:
    collection, item = "/api/{account_id}/api-keys", "/api/{account_id}/api-keys/{key_id}"
    app.add_route(collection, Collection(max_body_bytes))
    app.add_route(item, Item())
    return [
        Operation("GET", collection, "list_api_keys", "api_keys",
                  "List the working keys (never their secrets): a live key sees both modes', a test key test keys",
                  schemas.list_of(schemas.ApiKeyOut)),
        Operation("POST", collection, "create_api_key", "api_keys",
                  "Make a key (mode: live or test, by default the calling key's; a test key makes test keys "
                  "only); its secret is shown once", schemas.ApiKeySecretOut, schemas.ApiKeyCreate),
        Operation("GET", item, "retrieve_api_key", "api_keys", "Retrieve a working key (never its secret)",
                  schemas.ApiKeyOut),
        Operation("DELETE", item, "revoke_api_key", "api_keys",
                  "Revoke a key at once; the account's last key is a 409 `last_api_key`", schemas.DeletedOut),
    ]
