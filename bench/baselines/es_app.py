"""The obvious event-sourced app: the library's plain ``Application``, one aggregate and one event
per POST, stored where ``BENCH_DB_URL`` says (its event store settings built the way huying's
are)."""

from __future__ import annotations

import os
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.baselines.app import serving
from huying.api.schemas.requests import CallCreate
from huying.settings import Settings


class Report(Aggregate):
    @event("Raised")
    def __init__(self, item_code: str, grid_code: str, title: str, description: str, channel: str) -> None:
        self.item_code = item_code
        self.grid_code = grid_code
        self.title = title
        self.description = description
        self.channel = channel


reports = Application[UUID](
    env=Settings(database_url=os.environ["BENCH_DB_URL"], demo=True).eventsourcing_env()
)


def saved(body: CallCreate) -> str:
    report = Report(body.item_code, body.grid_code, body.title, body.description, body.channel.value)
    reports.save(report)
    return str(report.id)


app = serving(saved)
