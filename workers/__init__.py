"""The Celery app (`celery -A workers worker`). Tasks are thin: open a unit of work, call the
domain, commit."""
from celery import Celery

app = Celery("paymentkit")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
