"""The Celery app (`celery -A workers worker`). Tasks are thin: open a unit of work, call the
domain, commit."""
from celery import Celery
from celery.signals import setup_logging, task_prerun

from runtime import logs

app = Celery("paymentkit")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(["workers"], related_name="tasks", force=True)


@setup_logging.connect
def _json_logs(**kwargs) -> None:
    """Workers log JSON lines like the web process (instead of Celery's own format)."""
    logs.configure_logging()


@task_prerun.connect
def _carry_request_id(task=None, **kwargs) -> None:
    """The web request that enqueued a job names it in the job's log lines."""
    logs.request_id.set(getattr(task.request, "request_id", None) if task is not None else None)
