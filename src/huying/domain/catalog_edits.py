"""The district's edits of the catalog (呼应事项清单), event-sourced: the admin adds an item,
changes one (name, 启动情形, 标准, departments, priority, SLA per level), retires one (停用: no
new call may be raised under it) or restores it. The catalog in effect is the shipped one with
these edits folded over it (``effective``); each edit is its next version (``2026.1+3``: the
shipped 2026.1 and three edits). A call records the version it was raised under and a snapshot
of its item's SLA, so an edit never rewrites an earlier call.

One aggregate per district, created with the first edit (``Begun``: the shipped version the
edits start from). Every edit passes the one gate (``gate.TransitionTable``); the admin owns the
reference data (design/api.md: "admin manages tokens and reference data"). An item keeps its
code and category for good — moving one is retiring it and adding another. No event carries
personal data: items are the district's own rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from huying.domain import gate
from huying.domain.aggregate import HuyingAggregate
from huying.domain.catalog import Catalog, Category, Item, item_from_plain
from huying.domain.commands import Command
from huying.domain.errors import InvalidCommand
from huying.domain.principal import Principal, Role

PlainItem = dict[str, Any]  # an item as GET /api/v1/catalog serves it (reference.to_public_item)

_EDITS_NAMESPACE = UUID("6f2b7c1e-3d4a-4e59-8b0c-9a1d2e3f4c5b")


def edits_id(district: str) -> UUID:
    """The district's one catalog-edits aggregate: every process finds it under this id."""
    return uuid5(_EDITS_NAMESPACE, district)


class Party(StrEnum):
    ADMIN = "the district's admin"


class Action(StrEnum):
    ADD = "add_item"
    CHANGE = "change_item"
    RETIRE = "retire_item"
    RESTORE = "restore_item"


@dataclass(frozen=True)
class Situation:
    """The time, the catalog in effect before the edit, and the item it is about."""

    now: datetime
    catalog: Catalog
    code: str


def parties(principal: Principal, _: object, __: Situation) -> set[Party]:
    return {Party.ADMIN} if principal.role is Role.ADMIN else set()


def _new_code(_: object, s: Situation) -> str | None:
    if s.catalog.item(s.code) is None:
        return None
    return f"item {s.code} is already in catalog {s.catalog.version} (change or restore it)"


def _in_effect(_: object, s: Situation) -> str | None:
    return f"item {s.code} is retired (restore it first)" if s.code in s.catalog.retired else None


def _retired(_: object, s: Situation) -> str | None:
    return None if s.code in s.catalog.retired else f"item {s.code} is in effect, not retired"


_ADMIN = frozenset({Party.ADMIN})
TABLE = gate.TransitionTable[Action, Party, object, Situation](
    "catalog",
    parties,
    (
        gate.Transition(Action.ADD, "ItemAdded", _ADMIN, "no item has the code", _new_code, "a new item"),
        gate.Transition(Action.CHANGE, "ItemChanged", _ADMIN, "the item is in effect", _in_effect, "changed"),
        gate.Transition(Action.RETIRE, "ItemRetired", _ADMIN, "the item is in effect", _in_effect, "retired"),
        gate.Transition(Action.RESTORE, "ItemRestored", _ADMIN, "the item is retired", _retired, "in effect"),
    ),
)


class CatalogEdits(HuyingAggregate):
    class Event(HuyingAggregate.Event):
        # ``Begun`` is no move of its own: it is saved only with a first edit, which passes the
        # gate before anything is saved.
        actions: ClassVar[Mapping[str, str]] = {**TABLE.actions_by_event, "Begun": "begin"}

    class Begun(Aggregate.Created, Event):
        base_version: str  # the shipped catalog's version the edits were first made over

        def apply(self, edits: CatalogEdits) -> None:
            edits.base_version = self.base_version

    class ItemAdded(Event):
        item: PlainItem

        @property
        def acted_on(self) -> str | None:
            return str(self.item["code"])

        def apply(self, edits: CatalogEdits) -> None:
            edits.items[self.item["code"]] = self.item
            edits.added.append(self.item["code"])

    class ItemChanged(Event):
        item: PlainItem  # the whole item as the change leaves it
        changed: list[str]  # the fields that changed

        @property
        def acted_on(self) -> str | None:
            return str(self.item["code"])

        def apply(self, edits: CatalogEdits) -> None:
            edits.items[self.item["code"]] = self.item

    class ItemRetired(Event):
        code: str
        reason: str

        @property
        def acted_on(self) -> str | None:
            return self.code

        def apply(self, edits: CatalogEdits) -> None:
            edits.retired.add(self.code)

    class ItemRestored(Event):
        code: str
        reason: str

        @property
        def acted_on(self) -> str | None:
            return self.code

        def apply(self, edits: CatalogEdits) -> None:
            edits.retired.discard(self.code)

    base_version: str

    def __init__(self) -> None:
        self.items: dict[str, PlainItem] = {}  # added or changed: each as it now stands
        self.added: list[str] = []  # codes of added items, in the order they were added
        self.retired: set[str] = set()

    @property
    def edit_count(self) -> int:
        """How many edits were made (every event but ``Begun``)."""
        return self.version - 1

    @classmethod
    def begin(cls, cmd: Command, district: str, shipped: Catalog) -> CatalogEdits:
        """The district's edits, begun for their first edit (which the caller then makes: it
        passes the gate, and the two are saved together or not at all)."""
        meta = {**cmd.meta, "idempotency_key": None, "fingerprint": None}  # the edit carries them
        return cls._create(cls.Begun, id=edits_id(district), base_version=shipped.version, **meta)

    def _check(self, action: Action, cmd: Command, situation: Situation) -> None:
        TABLE.check(
            action,
            cmd.principal,
            self,
            situation,
            version=self.version,
            expected_version=cmd.expected_version,
        )

    def add_item(self, cmd: Command, situation: Situation, read: Callable[[], Item]) -> None:
        """A new item; ``read()`` judges it by the catalog file's rules once the gate has passed."""
        self._check(Action.ADD, cmd, situation)
        self.trigger_event(self.ItemAdded, item=read().as_plain(), **cmd.meta)

    def change_item(self, cmd: Command, situation: Situation, read: Callable[[], Item]) -> None:
        """The item as the change leaves it; refused (422) when nothing would change."""
        self._check(Action.CHANGE, cmd, situation)
        before, after = situation.catalog.items[situation.code].as_plain(), read().as_plain()
        changed = sorted(k for k in after if after[k] != before.get(k))
        if not changed:
            raise InvalidCommand("body", f"item {situation.code} already reads so: nothing changes")
        self.trigger_event(self.ItemChanged, item=after, changed=changed, **cmd.meta)

    def mark_item(self, cmd: Command, situation: Situation, action: Action, reason: str) -> None:
        """停用 (``RETIRE``) or restore (``RESTORE``) the item, saying why."""
        self._check(action, cmd, situation)
        event = self.ItemRetired if action is Action.RETIRE else self.ItemRestored
        self.trigger_event(event, code=situation.code, reason=reason, **cmd.meta)


def effective(shipped: Catalog, edits: CatalogEdits | None) -> Catalog:
    """The catalog in effect: the shipped one with the district's edits folded over it. A
    category lists its shipped items, then those added to it, leaving out the retired."""
    if edits is None:
        return shipped
    items = {**shipped.items, **{code: item_from_plain(plain) for code, plain in edits.items.items()}}
    retired = frozenset(edits.retired)

    def listed(category: Category) -> tuple[str, ...]:
        added = (c for c in edits.added if items[c].category == category.code)
        return tuple(c for c in (*category.items, *added) if c not in retired)

    categories = tuple(Category(c.code, c.name, c.area, listed(c)) for c in shipped.categories)
    version = f"{shipped.version}+{edits.edit_count}"
    return Catalog(version, shipped.areas, categories, items, retired)
