"""部门必应: the department side of a call — its work orders' commands, and the street's
decisions on their extensions — over the call's ``CommandPath``.

A work order's id names its call (``<call id>-w<n>``), so each command finds the call, judges
jurisdiction on it (404 outside), and acts on the order inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from huying.domain.call import Call
from huying.domain.errors import CallNotFound
from huying.domain.principal import Principal
from huying.domain.states import Satisfaction
from huying.service_layer.calls import Outcome
from huying.service_layer.command_path import Change, CommandPath, Submission
from huying.service_layer.dispatch import utc
from huying.service_layer.photos import Photos


class WorkOrderService:
    def __init__(self, path: CommandPath[Call], photos: Photos) -> None:
        self.path = path
        self.photos = photos

    def order_for(self, principal: Principal, order_id: str) -> tuple[Call, str]:
        """The call holding a work order, within the principal's jurisdiction; else 404."""
        call = self.path.get(principal, _call_of_order(order_id))
        if call.order(order_id) is None:
            raise CallNotFound(f"no work order {order_id} in your jurisdiction")
        return call, order_id

    def sign(self, p: Principal, order_id: str, sub: Submission, note: str | None) -> Outcome:
        return self._act(p, order_id, sub, "sign", lambda c, cmd: c.sign(cmd, order_id, note))

    def return_order(self, p: Principal, order_id: str, sub: Submission, reason: str) -> Outcome:
        return self._act(p, order_id, sub, "return", lambda c, cmd: c.return_order(cmd, order_id, reason))

    def request_extension(
        self, p: Principal, order_id: str, sub: Submission, until: datetime, reason: str
    ) -> Outcome:
        return self._act(
            p,
            order_id,
            sub,
            "request-extension",
            lambda c, cmd: c.request_extension(cmd, order_id, utc(until), reason),
        )

    def grant_extension(self, p: Principal, order_id: str, sub: Submission, note: str | None) -> Outcome:
        return self._act(
            p, order_id, sub, "extension/grant", lambda c, cmd: c.grant_extension(cmd, order_id, note)
        )

    def deny_extension(self, p: Principal, order_id: str, sub: Submission, reason: str) -> Outcome:
        return self._act(
            p, order_id, sub, "extension/deny", lambda c, cmd: c.deny_extension(cmd, order_id, reason)
        )

    def note_progress(
        self, p: Principal, order_id: str, sub: Submission, note: str, attachments: Sequence[str] = ()
    ) -> Outcome:
        photos = self.photos.usable(p, attachments)
        noted: Change[Call] = lambda c, cmd: c.note_progress(cmd, order_id, note, photos)  # noqa: E731
        change = self.photos.naming(photos, noted)
        return self._act(p, order_id, sub, "progress", change)

    def complete_order(
        self, p: Principal, order_id: str, sub: Submission, result: str, attachments: Sequence[str] = ()
    ) -> Outcome:
        photos = self.photos.usable(p, attachments)
        completed: Change[Call] = lambda c, cmd: c.complete_order(cmd, order_id, result, photos)  # noqa: E731
        change = self.photos.naming(photos, completed)
        return self._act(p, order_id, sub, "complete", change)

    def rate(
        self, p: Principal, order_id: str, sub: Submission, satisfaction: Satisfaction, comment: str | None
    ) -> Outcome:
        """一呼一评 by the caller: the street rates the department's work on the order."""
        rated: Change[Call] = lambda c, cmd: c.rate_work_order(cmd, order_id, satisfaction, comment)  # noqa: E731
        return self._act(p, order_id, sub, "rate-work-order", rated)

    def _act(
        self, p: Principal, order_id: str, sub: Submission, action: str, change: Change[Call]
    ) -> Outcome:
        call, _ = self.order_for(p, order_id)
        return Outcome.of(self.path.act(p, call.id, sub, action, change, target=order_id))


def _call_of_order(order_id: str) -> UUID:
    call_part, sep, _ = order_id.rpartition("-w")
    try:
        return UUID(call_part) if sep else UUID(int=0)
    except ValueError:
        return UUID(int=0)
