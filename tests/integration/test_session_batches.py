"""`checkout_sessions.create` messages stored many per job (workers/session_batches.py): each
session once, the messages acknowledged only once the job holding them is on the broker, and a
message the batcher cannot read run as a job of its own."""
from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
from celery import Celery
from kombu import Connection, Queue
from kombu.asynchronous.timer import Timer

from tests.conftest import find_share_link, wait_for
from tests.integration import test_share
from tests.integration.test_share import count_sessions, stored_session

link = test_share.link  # the fixture: a one-price link

HANDED = re.compile(r"(\d+) checkout sessions handed to checkout_sessions\.store\[([^\]]+)\]: (.*)")


def make_snapshots(uow_factory, settings, link, count: int) -> list[dict]:
    from domain import checkout_sessions
    from domain.checkout_tokens import new_checkout_token
    from domain.ids import new_id

    with uow_factory() as uow:
        row = find_share_link(uow.session.get_bind(), link["secure_token"])
    now = datetime.now(UTC)
    return [checkout_sessions.new_session(row, session_id=new_id("cs", True), now=now,
                                          checkout_token=new_checkout_token(settings.secret_key, now))
            for _ in range(count)]


def handed_jobs(caplog) -> list[list[str]]:
    """The session ids of each store job the workers handed sessions to, from their log lines."""
    found = [HANDED.search(record.getMessage()) for record in caplog.records]
    return [match[3].split() for match in found if match]


def test_a_burst_of_opens_is_stored_once_each_by_far_fewer_jobs(deps, link, uow_factory, settings, redis_client,
                                                                 celery_worker, caplog):
    caplog.set_level(logging.INFO, logger="paymentkit.workers")
    snapshots = make_snapshots(uow_factory, settings, link, 60)
    # On the queue at once, as a burst of share opens puts them: one LPUSH of 60 messages.
    redis_client.lpush(settings.redis_key_prefix + "sessions",
                       *[deps.sender.message("checkout_sessions.create", [s], task_id=s["id"]) for s in snapshots])
    wait_for(lambda: count_sessions(uow_factory, link["id"]) == 60)
    ids = {s["id"] for s in snapshots}
    jobs = [job for job in wait_for(lambda: handed_jobs(caplog)) if ids & set(job)]
    handed = [session_id for job in jobs for session_id in job]
    assert sorted(handed) == sorted(ids)  # each handed over once
    assert len(jobs) < 20
    # The test worker fetches 4 messages ahead (4 threads, prefetch 1): a job of more than 4 means
    # that collected messages do not use up the window the pool's jobs are fetched with.
    assert max(len(job) for job in jobs) > 4
    for snapshot in snapshots:
        assert any(f"checkout session {snapshot['id']} stored" in r.getMessage() for r in caplog.records)


def test_a_store_job_stores_each_session_once_whatever_the_repeats(link, uow_factory, settings):
    """A worker that died between publishing a store job and acknowledging its messages hands the
    same sessions over again; a redelivered job runs twice."""
    from domain.db import session_factory
    from workers import context
    from workers.tasks import store_checkout_sessions

    context.use(session_factory(uow_factory().session.get_bind()))
    first, second = make_snapshots(uow_factory, settings, link, 2)
    assert store_checkout_sessions.run([[first, "req_one"], [first, "req_one"]]) == 1
    assert store_checkout_sessions.run([[first, "req_one"], [second, ""]]) == 1
    assert store_checkout_sessions.run([[first, "req_one"], [second, ""]]) == 0
    assert count_sessions(uow_factory, link["id"]) == 2
    assert stored_session(uow_factory, second["id"]).amount_total_atom == second["amount_total_atom"]


def test_a_retried_creation_from_an_older_release_runs_as_a_job_of_its_own(deps, link, uow_factory, settings,
                                                                           celery_worker, caplog):
    caplog.set_level(logging.INFO, logger="paymentkit.workers")
    (snapshot,) = make_snapshots(uow_factory, settings, link, 1)
    # What an older release's retry of `checkout_sessions.create` put on the queue: a countdown.
    deps.sender._app.send_task("checkout_sessions.create", args=[snapshot], task_id=snapshot["id"], countdown=0.2)
    wait_for(lambda: stored_session(uow_factory, snapshot["id"]))
    assert not any(snapshot["id"] in job for job in handed_jobs(caplog))


class StandInConsumer:
    """What the batcher uses of Celery's consumer: its prefetch window, timer and error types."""

    class Window:
        def __init__(self):
            self.raised = 0

        def increment_eventually(self):
            self.raised += 1

        def decrement_eventually(self):
            self.raised -= 1

    def __init__(self):
        self.qos = self.Window()
        self.timer = Timer()
        self.connection_errors = ()


PROBE_QUEUE = "session_batches_probe"  # no worker consumes these


def store_nothing(handed: list) -> int:
    """The store job's body on the probe apps: these tests read the job off the broker."""
    return 0


@pytest.fixture
def probe_app(settings, redis_client):
    """A Celery app on this run's broker whose store job goes to a queue nobody reads."""
    app = Celery("probe")
    app.config_from_object("celeryconfig")
    app.conf.task_routes = {"checkout_sessions.store": {"queue": PROBE_QUEUE + "_jobs"}}
    yield app
    redis_client.delete(*(settings.redis_key_prefix + name for name in (PROBE_QUEUE, PROBE_QUEUE + "_jobs")))


def push(deps, redis_client, settings, snapshots) -> None:
    redis_client.lpush(settings.redis_key_prefix + PROBE_QUEUE,
                       *[deps.sender.message("checkout_sessions.create", [s], task_id=s["id"]) for s in snapshots])


def taken(deps, settings, count: int) -> tuple[Connection, list]:
    """Messages as a worker receives them: taken off the queue, held unacknowledged."""
    connection = Connection(deps.sender._app.conf.broker_url,
                            transport_options={"global_keyprefix": settings.redis_key_prefix})
    queue = Queue(PROBE_QUEUE, channel=connection.default_channel)
    return connection, [queue.get(no_ack=False) for _ in range(count)]


def unacked(redis_client, settings, messages) -> int:
    return sum(redis_client.hexists(settings.redis_key_prefix + "unacked", m.delivery_tag) for m in messages)


def test_messages_are_acknowledged_once_their_job_is_on_the_broker_and_else_run_one_by_one(deps, link, uow_factory, settings,
                                                                       redis_client, probe_app):
    from workers.session_batches import SessionBatcher

    snapshots = make_snapshots(uow_factory, settings, link, 3)
    push(deps, redis_client, settings, snapshots)
    connection, messages = taken(deps, settings, 3)
    odd = []
    consumer = StandInConsumer()

    # A broker that does not take the job: nothing acknowledged here; each message goes to
    # Celery's own strategy (a job of its own, acknowledged after it ran), the window as it was.
    dead = Celery("dead")
    dead.config_from_object("celeryconfig")
    dead.conf.broker_url = "redis://127.0.0.1:1/0"
    refusing = SessionBatcher(consumer, dead.task(name="checkout_sessions.store")(store_nothing),
                              lambda message, *rest: odd.append(message))
    for message in messages:
        refusing(message, None, None, None, set())
    assert consumer.qos.raised == 3 and odd == []
    refusing.flush()
    assert odd == messages
    assert consumer.qos.raised == 0 and unacked(redis_client, settings, messages) == 3
    odd.clear()

    # Taken: one job holding the three, then the three acknowledged.
    store_job = probe_app.task(name="checkout_sessions.store")(store_nothing)
    batcher = SessionBatcher(consumer, store_job, lambda message, *rest: odd.append(message))
    for message in messages:
        batcher(message, None, None, None, set())
    batcher.flush()
    assert consumer.qos.raised == 0 and unacked(redis_client, settings, messages) == 0
    (job,) = redis_client.lrange(settings.redis_key_prefix + PROBE_QUEUE + "_jobs", 0, -1)
    job = json.loads(job)
    assert job["headers"]["task"] == "checkout_sessions.store"
    assert job["headers"]["argsrepr"] == f"[3 sessions: {', '.join(s['id'] for s in snapshots)}]"  # no tokens
    assert odd == []
    connection.release()


def test_a_message_with_a_countdown_goes_to_celerys_own_strategy(deps, link, uow_factory, settings, probe_app):
    from workers.session_batches import SessionBatcher

    (snapshot,) = make_snapshots(uow_factory, settings, link, 1)
    deps.sender._app.send_task("checkout_sessions.create", args=[snapshot], task_id=snapshot["id"], countdown=60,
                               queue=PROBE_QUEUE)
    connection, (message,) = taken(deps, settings, 1)
    odd, consumer = [], StandInConsumer()
    batcher = SessionBatcher(consumer, probe_app.task(name="checkout_sessions.store")(store_nothing),
                             lambda message, *rest: odd.append(message))
    batcher(message, None, None, None, set())
    assert odd == [message] and consumer.qos.raised == 0
    connection.release()
