"""Jobs named inside a unit of work go out after its commit, never before and never on rollback."""
from __future__ import annotations

import pytest

from domain.db import UnitOfWork


class Recorder:
    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, list, str]] = []
        self.fail = fail

    def send(self, name, args, *, task_id):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((name, args, task_id))


def test_a_job_goes_out_only_after_commit():
    jobs = Recorder()
    uow = UnitOfWork(session_factory=None, jobs=jobs)
    uow.send_after_commit("checkout_sessions.expired", ["cs_1"], task_id="cs_1.expired")
    assert jobs.sent == []
    uow.commit()
    assert jobs.sent == [("checkout_sessions.expired", ["cs_1"], "cs_1.expired")]
    uow.commit()  # sent once, not again
    assert len(jobs.sent) == 1


def test_a_rolled_back_unit_of_work_sends_nothing():
    jobs = Recorder()
    with UnitOfWork(session_factory=None, jobs=jobs) as uow:
        uow.send_after_commit("checkout_sessions.expired", ["cs_1"], task_id="cs_1.expired")
    assert jobs.sent == []


def test_a_broker_refusing_after_commit_is_logged_not_raised(caplog):
    uow = UnitOfWork(session_factory=None, jobs=Recorder(fail=True))
    uow.send_after_commit("checkout_sessions.expired", ["cs_1"], task_id="cs_1.expired")
    uow.commit()
    assert "could not send job checkout_sessions.expired cs_1.expired" in caplog.text


def test_a_unit_of_work_without_a_sender_refuses_jobs():
    with pytest.raises(RuntimeError):
        UnitOfWork(session_factory=None).send_after_commit("x.y", [], task_id="1")
