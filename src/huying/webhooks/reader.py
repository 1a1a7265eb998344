"""Reads the event log from a subscription's position, as the steps deliveries tell of.

Each reader keeps the calls it has folded (the projector's ``CallCache``): a subscription reads
the log forward, so each call is loaded from the store once and then followed event by event."""

from __future__ import annotations

from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.call import Call
from huying.projections.runner import CallCache
from huying.webhooks.kinds import Before, Envelope, envelope


class LogReader:
    def __init__(self, app: HuyingApplication, cache_size: int = 500) -> None:
        self.app = app
        self.cache = CallCache(app, cache_size)

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> tuple[list[Envelope], int]:
        """The steps after ``after`` (at most ``limit`` notifications looked at), and how far it
        looked: positions of other aggregates' events are passed over."""
        batch = self.app.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        found: list[Envelope] = []
        try:
            for n in batch:
                event = self.app.mapper.to_domain_event(n)
                if not isinstance(event, Call.Event):
                    continue
                assert isinstance(n.originator_id, UUID)
                call, positions = self.cache.before(n.originator_id, n.originator_version)
                assert call is None or isinstance(call, Call)  # a call's event follows its call
                before = Before.of(call)
                call = event.mutate(call)
                self.cache.keep(call, positions)
                found.append(envelope(n, event, before, call))
        except BaseException:
            self.cache.clear()  # a half-applied batch must not be reused
            raise
        return found, batch[-1].id if batch else after
