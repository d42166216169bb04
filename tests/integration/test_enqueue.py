"""The web process's sender: one LPUSH of the very message Celery's own producer writes."""
from __future__ import annotations

import base64
import json

import pytest

from api.enqueue import CelerySender, EnqueueFailed, queue_key
from runtime import logs
from runtime.jobs import JOBS, Job

PROBE_QUEUE = "enqueue_probe"  # no worker consumes it: the test reads what was written


@pytest.fixture
def probe(redis_client, settings):
    key = settings.redis_key_prefix + PROBE_QUEUE
    redis_client.delete(key)
    yield key
    redis_client.delete(key)


def written(redis_client, key: str) -> dict:
    assert redis_client.llen(key) == 1
    return json.loads(redis_client.rpop(key))


def probe_sender(deps, priority: int = 0) -> CelerySender:
    """The web's sender with the job routed to the probe queue (as runtime/jobs.py would)."""
    return CelerySender(deps.sender._app, jobs={"checkout_sessions.create": Job(PROBE_QUEUE, priority)})


@pytest.mark.parametrize("priority", [0, 9])
def test_the_message_is_the_one_celery_send_task_writes(deps, redis_client, settings, probe, priority):
    args = [{"id": "cs_live_probe", "line_items": [{"quantity": 2}], "amount_total_atom": 3998}]
    sender = probe_sender(deps, priority)
    key = settings.redis_key_prefix + queue_key(Job(PROBE_QUEUE, priority))
    sender._app.send_task("checkout_sessions.create", args=args, task_id="cs_live_probe", queue=PROBE_QUEUE,
                          priority=priority, headers={"request_id": "req_probe12345"}, argsrepr="[cs_live_probe]",
                          kwargsrepr="{}")
    by_celery = written(redis_client, key)
    token = logs.request_id.set("req_probe12345")
    try:
        sender.send("checkout_sessions.create", args, task_id="cs_live_probe")
    finally:
        logs.request_id.reset(token)
    ours = written(redis_client, key)

    assert ours["headers"] == by_celery["headers"]
    assert ours["headers"]["argsrepr"] == "[cs_live_probe]"  # arguments (with tokens) never shown
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(by_celery["body"]))
    assert {k: v for k, v in ours.items() if k not in ("body", "headers", "properties")} == \
        {k: v for k, v in by_celery.items() if k not in ("body", "headers", "properties")}
    # kombu copies send_task's extra keyword arguments into the properties; the worker reads none
    # of them. The delivery tag is a fresh uuid per message.
    celery_properties = {k: v for k, v in by_celery["properties"].items() if k not in ("argsrepr", "kwargsrepr")}
    assert ours["properties"].pop("delivery_tag") != celery_properties.pop("delivery_tag")
    assert ours["properties"] == celery_properties


def test_celeryconfig_routes_every_job_as_the_table_says():
    import celeryconfig

    assert set(celeryconfig.task_routes) == set(JOBS)
    for name, job in JOBS.items():
        assert celeryconfig.task_routes[name]["queue"] == job.queue
        assert celeryconfig.task_routes[name].get("priority", 0) == job.priority
    assert {queue.name for queue in celeryconfig.task_queues} == {job.queue for job in JOBS.values()}


def test_a_job_sent_this_way_is_run_by_a_real_worker(deps, merchant, celery_worker, uow_factory, settings):
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.db import utcnow
    from domain.models import CheckoutSession
    from tests.conftest import find_share_link, wait_for

    link = merchant.ok("POST", "/payment-links", {"line_items": [{"price_id": merchant.price(1500)["id"]}]})
    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
    now = utcnow()
    snapshot = checkout_sessions.new_session(row, session_id="cs_live_enqueueprobe0001", now=now,
                                             checkout_token=new_checkout_token(settings.secret_key, now))
    deps.sender.send("checkout_sessions.create", [snapshot], task_id=snapshot["id"])

    def stored_total():
        with uow_factory() as uow:
            found = uow.session.get(CheckoutSession, snapshot["id"])
            return found.amount_total_atom if found else None

    assert wait_for(stored_total) == 1500


def test_a_refused_connection_is_enqueue_failed(settings):
    from celery import Celery

    dead = Celery("dead-broker")
    dead.config_from_object("celeryconfig")
    dead.conf.broker_url = "redis://127.0.0.1:1/0"
    with pytest.raises(EnqueueFailed):
        CelerySender(dead).send("checkout_sessions.create", [{}], task_id="cs_live_x")
