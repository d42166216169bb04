"""The account (SPEC 10: what customers see of the merchant) and each mode's processor (SPEC 7).

The account is one for both modes; the processor is the API key's mode's. Processor secrets go
in encrypted and only ever come back masked (domain/processors.py)."""
from __future__ import annotations

import msgspec

from api import schemas, serializers
from api.http import read_json, respond
from api.openapi import Operation
from domain import accounts, processors


class Account:
    def __init__(self, max_body_bytes: int):
        self.max_body_bytes = max_body_bytes

    def on_get(self, req, resp, account_id: str) -> None:
        respond(resp, serializers.account(accounts.get_account(req.context.uow, req.context.owner.account_id)))

    def on_patch(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.AccountUpdate, self.max_body_bytes)
        given = {name: value for name, value in msgspec.structs.asdict(body).items() if value is not msgspec.UNSET}
        changed = accounts.update_display(req.context.uow, req.context.owner.account_id,
                                          accounts.DisplayUpdate(**given))
        respond(resp, serializers.account(changed))


class ProcessorSetting:
    def __init__(self, box: processors.SecretBox, max_body_bytes: int):
        self.box = box
        self.max_body_bytes = max_body_bytes

    def on_get(self, req, resp, account_id: str) -> None:
        respond(resp, serializers.processor_setting(processors.choice(req.context.uow, req.context.owner, self.box)))

    def on_put(self, req, resp, account_id: str) -> None:
        body = read_json(req, schemas.ProcessorChoose, self.max_body_bytes)
        chosen = processors.choose(req.context.uow, req.context.owner,
                                   processors.ChooseProcessor(**msgspec.structs.asdict(body)), self.box)
        respond(resp, serializers.processor_setting(chosen))


def add_routes(app, deps) -> list[Operation]:
    account_path = "/api/{account_id}/account"
    processor_path = "/api/{account_id}/processor"
    app.add_route(account_path, Account(deps.settings.max_body_bytes))
    app.add_route(processor_path, ProcessorSetting(deps.processors.box, deps.settings.max_body_bytes))
    return [
        Operation("GET", account_path, "retrieve_account", "account", "Retrieve the account's settings",
                  schemas.AccountOut),
        Operation("PATCH", account_path, "update_account", "account",
                  "Change what customers see: display name, support email, brand colour", schemas.AccountOut,
                  schemas.AccountUpdate),
        Operation("GET", processor_path, "retrieve_processor_setting", "processor",
                  "Retrieve this mode's processor (secrets masked)", schemas.ProcessorSettingOut),
        Operation("PUT", processor_path, "choose_processor", "processor",
                  "Choose this mode's processor: test (test mode only) or stripe with its keys",
                  schemas.ProcessorSettingOut, schemas.ProcessorChoose),
    ]
