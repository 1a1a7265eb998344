"""随手拍: which photos a principal may name on a command, or read.

A photo is the principal's to use when it uploaded it, or when a call (or another aggregate whose
photos it is told of, such as a directive's reports) it can see names it; otherwise it does not
exist for the principal (404, or 422 naming the field on a command).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from huying.domain.call import Call
from huying.domain.commands import Command
from huying.domain.errors import InvalidCommand, NotFound
from huying.domain.principal import Principal
from huying.service_layer.command_path import A, Change, CommandPath
from huying.service_layer.ports import PhotoIndex
from huying.services.attachments import Attachment, AttachmentNotFound


class Photos:
    def __init__(self, index: PhotoIndex, calls: CommandPath[Call]) -> None:
        self.index = index
        # Each kind of aggregate that names photos, and which photos one of them names.
        self._namers: list[tuple[CommandPath[Any], Callable[[Any], Collection[str]]]] = [
            (calls, lambda call: call.attachments)
        ]

    def also_named_by(self, path: CommandPath[A], photos_of: Callable[[A], Collection[str]]) -> None:
        """Another kind of aggregate names photos too: whoever sees one may see its photos."""
        self._namers.append((path, photos_of))

    def attachment_for(self, principal: Principal, attachment_id: str) -> Attachment:
        """A photo the principal may see — one it uploaded, or one named by a call it can see;
        otherwise 404, exactly as if there were none."""
        found = self.index.get(attachment_id)
        if found is None or not self._may_use(principal, attachment_id):
            raise AttachmentNotFound(f"no attachment {attachment_id} visible to you")
        return found

    def usable(self, principal: Principal, ids: Sequence[str]) -> list[str]:
        """The photos a command names, each once (422 naming the field for one that does not
        exist or that the principal neither uploaded nor can see on a call)."""
        for i, attachment_id in enumerate(ids):
            if self.index.get(attachment_id) is None or not self._may_use(principal, attachment_id):
                raise InvalidCommand(
                    f"attachments.{i}",
                    f"no attachment {attachment_id}: upload it first (POST /api/v1/attachments)",
                )
        return list(dict.fromkeys(ids))

    def naming(self, photos: list[str], change: Change[A]) -> Callable[[A, Command], None]:
        """A change that names photos: once the domain has accepted it, and before its event is
        stored, the photos' index learns which call (or directive) names them."""

        def named(aggregate: A, cmd: Command) -> None:
            change(aggregate, cmd)
            self.index.refer(photos, aggregate.id)

        return named

    def _may_use(self, principal: Principal, attachment_id: str) -> bool:
        if self.index.uploaded_by(attachment_id, principal):
            return True
        for aggregate_id in self.index.calls_naming(attachment_id):
            for path, photos_of in self._namers:
                try:
                    aggregate = path.get(principal, aggregate_id)
                except NotFound:
                    continue  # another kind, outside the jurisdiction, or never stored
                if attachment_id in photos_of(aggregate):
                    return True
        return False
