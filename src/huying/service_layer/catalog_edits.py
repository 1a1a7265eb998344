"""The admin's edits of the catalog (呼应事项清单): the application service of ``CatalogEdits``
over the one ``CommandPath``. An item is judged by the rules the shipped catalog file's items
obey (``reference.read_item``: the same code, not a copy), within the catalog in effect.

The district's edits are one aggregate, created with the first edit: that edit and ``Begun`` are
saved together, so a refused first edit writes nothing either. When two processes make a first
edit at once, the store takes one; the other is then made over it as any later edit is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from eventsourcing.persistence import IntegrityError

from huying.application import HuyingApplication
from huying.domain.catalog import Catalog, Item
from huying.domain.catalog_edits import Action, CatalogEdits, Situation, edits_id, effective
from huying.domain.commands import Command
from huying.domain.errors import CatalogItemNotFound, InvalidCommand
from huying.domain.principal import Principal
from huying.reference import ReferenceDataError, read_item
from huying.service_layer.command_path import CommandPath, Recorded, Submission
from huying.service_layer.history import History, Past

Edit = Callable[[CatalogEdits, Command, Situation], None]


def catalog_edits_path(log: HuyingApplication) -> CommandPath[CatalogEdits]:
    # The catalog is every token's to read (GET /api/v1/catalog), and so is how it came to be.
    return CommandPath(
        log, CatalogEdits, noun="catalog edits", not_found=CatalogItemNotFound, visible=lambda p, e: True
    )


class CatalogEditService:
    def __init__(self, path: CommandPath[CatalogEdits]) -> None:
        self.path = path
        self.past = Past(path)
        self.log = path.log
        self.id = edits_id(self.log.org.district.code)

    # --- reads -------------------------------------------------------------------------------

    def history(self, principal: Principal) -> History | None:
        """Every edit as stored, with its log position; None before the first."""
        if self.path.current(self.id) is None:
            return None
        return self.past.history(principal, self.id)

    # --- edits -------------------------------------------------------------------------------

    def add_item(
        self, principal: Principal, sub: Submission, item: Mapping[str, Any]
    ) -> Recorded[CatalogEdits]:
        """A new item, in an existing category (which its code starts with)."""
        code = str(item.get("code", ""))

        def add(edits: CatalogEdits, cmd: Command, s: Situation) -> None:
            edits.add_item(cmd, s, lambda: self._judged(item, s.catalog))

        return self._edit(principal, sub, Action.ADD, code, add)

    def change_item(
        self, principal: Principal, code: str, sub: Submission, changes: Mapping[str, Any]
    ) -> Recorded[CatalogEdits]:
        """The item with ``changes`` (any of its fields but code, area and category)."""

        def change(edits: CatalogEdits, cmd: Command, s: Situation) -> None:
            merged = {**_known(s.catalog, code).as_plain(), **changes}
            edits.change_item(cmd, s, lambda: self._judged(merged, s.catalog))

        return self._edit(principal, sub, Action.CHANGE, code, change)

    def retire_item(
        self, principal: Principal, code: str, sub: Submission, reason: str
    ) -> Recorded[CatalogEdits]:
        """停用: no new call may be raised under the item; calls raised under it go on."""
        return self._mark(principal, code, sub, reason, Action.RETIRE)

    def restore_item(
        self, principal: Principal, code: str, sub: Submission, reason: str
    ) -> Recorded[CatalogEdits]:
        return self._mark(principal, code, sub, reason, Action.RESTORE)

    def _mark(
        self, principal: Principal, code: str, sub: Submission, reason: str, action: Action
    ) -> Recorded[CatalogEdits]:
        def mark(edits: CatalogEdits, cmd: Command, s: Situation) -> None:
            _known(s.catalog, code)
            edits.mark_item(cmd, s, action, reason)

        return self._edit(principal, sub, action, code, mark)

    def _edit(
        self, principal: Principal, sub: Submission, action: Action, code: str, edit: Edit
    ) -> Recorded[CatalogEdits]:
        """The first edit begins the district's edits (saved with it); any later one goes the
        one command path. The catalog an edit is judged in is the one its aggregate makes."""
        shipped = self.log.shipped_catalog
        if self.path.current(self.id) is None:
            cmd = self.path.command(principal, sub)
            first = Situation(cmd.at, shipped, code)
            edits = CatalogEdits.begin(cmd, self.log.org.district.code, shipped)
            edit(edits, cmd, first)
            with suppress(IntegrityError):  # another process began them first: edit over theirs
                return self.path.create(edits, earlier=lambda: None)

        def act(edits: CatalogEdits, cmd: Command) -> None:
            edit(edits, cmd, Situation(cmd.at, effective(shipped, edits), code))

        return self.path.act(principal, self.id, sub, action.value, act, target=code)

    def _judged(self, item: Mapping[str, Any], catalog: Catalog) -> Item:
        try:
            return read_item(item, catalog, self.log.org)
        except ReferenceDataError as e:
            raise InvalidCommand(e.field or "body", e.problem) from None


def _known(catalog: Catalog, code: str) -> Item:
    item = catalog.item(code)
    if item is None:
        raise CatalogItemNotFound(f"no item {code} in catalog {catalog.version}")
    return item
