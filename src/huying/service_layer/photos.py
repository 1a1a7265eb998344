"""随手拍: which photos a principal may name on a command, or read.

A photo is the principal's to use when it uploaded it, or when a call it can see names it;
otherwise it does not exist for the principal (404, or 422 naming the field on a command).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from huying.domain.call import Call
from huying.domain.commands import Command
from huying.domain.errors import InvalidCommand, NotFound
from huying.domain.principal import Principal
from huying.service_layer.command_path import Change, CommandPath
from huying.service_layer.ports import PhotoIndex
from huying.services.attachments import Attachment, AttachmentNotFound


class Photos:
    def __init__(self, index: PhotoIndex, calls: CommandPath[Call]) -> None:
        self.index = index
        self._calls = calls

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

    def naming(self, photos: list[str], change: Change[Call]) -> Callable[[Call, Command], None]:
        """A change that names photos: once the domain has accepted it, and before its event is
        stored, the photos' index learns which call names them."""

        def named(call: Call, cmd: Command) -> None:
            change(call, cmd)
            self.index.refer(photos, call.id)

        return named

    def _may_use(self, principal: Principal, attachment_id: str) -> bool:
        if self.index.uploaded_by(attachment_id, principal):
            return True
        for call_id in self.index.calls_naming(attachment_id):
            try:
                call = self._calls.get(principal, call_id)
            except NotFound:
                continue  # outside the jurisdiction, or a raise that was never stored
            if attachment_id in call.attachments:
                return True
        return False
