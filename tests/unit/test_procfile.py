"""The Procfile's worker takes its queues from runtime/jobs.py (celeryconfig's task_queues): no
second list of queues to forget a new one in."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_consumes_every_queue_of_the_jobs_table():
    worker = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("worker:"))
    assert "--queues" not in worker and " -Q " not in worker  # celery then consumes every task_queue

    import celeryconfig
    from runtime.jobs import JOBS

    assert {queue.name for queue in celeryconfig.task_queues} == {job.queue for job in JOBS.values()}
