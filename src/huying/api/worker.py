"""The app of one `huying serve` process (of its N workers, or the only one).

uvicorn's supervisor starts the workers; when the supervisor is killed outright (SIGKILL, the
OOM killer) nothing tells them, and orphaned workers would go on serving the old socket and
holding duty locks while a restarted server cannot bind its port. So a worker whose
supervisor is gone stops itself, in an orderly way (SIGTERM: uvicorn drains and shuts down).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from fastapi import FastAPI

from huying.api.app import create_app
from huying.duties import log_to_stderr

log = logging.getLogger(__name__)

SUPERVISOR_PID = "HUYING_SUPERVISOR_PID"  # set by `huying serve` for its workers
_LOOK_SECONDS = 0.5


def create_worker_app() -> FastAPI:
    log_to_stderr()
    supervisor = int(os.environ.get(SUPERVISOR_PID) or 0)
    if supervisor:
        threading.Thread(target=_stop_when_orphaned, args=(supervisor,), daemon=True).start()
    return create_app()


def _stop_when_orphaned(supervisor: int) -> None:
    while os.getppid() == supervisor:
        time.sleep(_LOOK_SECONDS)
    log.warning("worker %d: the supervisor (pid %d) is gone; shutting down", os.getpid(), supervisor)
    os.kill(os.getpid(), signal.SIGTERM)
