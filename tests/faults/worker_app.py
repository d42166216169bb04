"""The production worker (`workers.app`, its tasks and celeryconfig) with two knobs turned for
tests that SIGKILL workers, so that they run in seconds; nothing else differs.

- FAULTS_VISIBILITY_TIMEOUT: the broker hands an unacked job out again after this many seconds
  (celeryconfig's is an hour), checked every second.
- FAULTS_EXPIRY_BATCH_SIZE: the expiry sweep's batch size (5,000 in production).

`celery -A tests.faults.worker_app worker`
"""
import os

import workers.tasks
from workers import app

if os.environ.get("FAULTS_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "visibility_timeout": int(os.environ["FAULTS_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
if os.environ.get("FAULTS_EXPIRY_BATCH_SIZE"):
    workers.tasks.EXPIRY_BATCH_SIZE = int(os.environ["FAULTS_EXPIRY_BATCH_SIZE"])
