"""Reads the event log from a subscription's position, as the steps deliveries tell of.

Calls', directives' and joint meetings' steps are read. Each reader keeps the aggregates it has
folded (the projector's ``CallCache``): a subscription reads the log forward, so each is loaded
from the store once and then followed event by event."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Notification

from huying.application import HuyingApplication
from huying.domain.call import Call
from huying.domain.directive import Directive
from huying.domain.meeting import Meeting
from huying.projections.runner import CallCache
from huying.webhooks.kinds import Before, Envelope, envelope
from huying.webhooks.task_kinds import directive_envelope, meeting_envelope


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
                if isinstance(event, Call.Event | Directive.Event | Meeting.Event):
                    found.append(self._step(n, event))
        except BaseException:
            self.cache.clear()  # a half-applied batch must not be reused
            raise
        return found, batch[-1].id if batch else after

    def _step(self, n: Notification, event: Call.Event | Directive.Event | Meeting.Event) -> Envelope:
        """The step's envelope, from its aggregate just before and just after it."""
        assert isinstance(n.originator_id, UUID)
        was, positions = self.cache.before(n.originator_id, n.originator_version)
        before = Before.of(was) if isinstance(was, Call) else None  # read now: mutate changes it
        now = event.mutate(was)
        self.cache.keep(now, positions)
        if isinstance(event, Directive.Event):
            assert isinstance(now, Directive)
            return directive_envelope(n, event, now)
        if isinstance(event, Meeting.Event):
            assert isinstance(now, Meeting)
            return meeting_envelope(n, event, now)
        assert isinstance(now, Call)  # a call's event follows its call
        return envelope(n, event, before or Before.of(None), now)
