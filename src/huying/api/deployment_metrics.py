"""/metrics about the deployment as a whole, read from the database at each scrape — so every
API worker answers alike, and the processes without HTTP (`huying project`, `chain`, `watch`)
are watched through it: how far the log, the read models and the chain have got, and whether
some process holds each duty (docs/operations.md lists the alerts on them)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select

from huying.bootstrap import Services
from huying.duties import Duty
from huying.locks import held
from huying.projections.chain import TRACKING_NAME as CHAIN_TRACKING
from huying.projections.runner import TRACKING_NAME as PROJECTOR_TRACKING
from huying.projections.tables import projection_tracking

log = logging.getLogger(__name__)


class DeploymentMetrics(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("huying_database_up", "1 when the event store and the database answer")
        try:
            gauges = self._gauges()
        except Exception as e:  # a scrape while the database is away: say so, keep HTTP metrics
            log.warning("metrics: the database does not answer: %s", type(e).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges

    def _gauges(self) -> list[Metric]:
        s = self.services
        head = s.app.recorder.max_notification_id() or 0
        with s.engine.connect() as conn:
            tracked = {r.name: int(r.position) for r in conn.execute(select(projection_tracking))}
        log_head = GaugeMetricFamily("huying_log_head", "position of the newest event in the log")
        log_head.add_metric([], head)
        tracked_by = ["projection"]
        position = GaugeMetricFamily(
            "huying_projection_position", "log position a tracked projection has reached", labels=tracked_by
        )
        lag = GaugeMetricFamily(
            "huying_projection_lag", "events a tracked projection has not reached", labels=tracked_by
        )
        for name in (PROJECTOR_TRACKING, CHAIN_TRACKING):
            position.add_metric([name], tracked.get(name, 0))
            lag.add_metric([name], max(head - tracked.get(name, 0), 0))
        duty = GaugeMetricFamily(
            "huying_duty_held", "1 while a process of the deployment holds the duty's lock", labels=["duty"]
        )
        for name, taken in held(s.settings, s.engine, [d.value for d in Duty]).items():
            duty.add_metric([name], int(taken))
        return [log_head, position, lag, duty]
