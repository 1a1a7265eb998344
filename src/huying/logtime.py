"""How far business time has got in the log: the ``at`` of its latest stored event.

Business time is huying's clock when a command ran. A settable clock set before this would
stamp new events earlier than recorded ones — responses before their calls, negative times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.application import Application


def last_business_time(app: Application[Any]) -> datetime | None:
    """The business time of the latest stored event; None while the log is empty."""
    head = app.recorder.max_notification_id()
    if not head:
        return None
    [latest] = app.recorder.select_notifications(start=head, limit=1)
    at: datetime = app.mapper.to_domain_event(latest).at  # type: ignore[attr-defined]
    return at
