"""The app of one `huying serve` process (of its N workers, or the only one).

A worker whose supervisor is killed outright stops itself (``huying.supervision``).
"""

from __future__ import annotations

from fastapi import FastAPI

from huying.api.app import create_app
from huying.duties import log_to_stderr, settle_the_collector
from huying.queries.warming import warm
from huying.supervision import SUPERVISOR_PID, stop_when_orphaned

__all__ = ["SUPERVISOR_PID", "create_worker_app"]


def create_worker_app() -> FastAPI:
    log_to_stderr()
    stop_when_orphaned()
    app = create_app()
    warm(app.state.services)  # before it answers: its first dashboards as fast as the next
    settle_the_collector()
    return app
