"""The one event log every aggregate is saved to: the eventsourcing Application.

What is the same for calls, directives and joint meetings lives here, once: the mapper that
seals each stored event and vouches for each one read (封印), ``save`` (which tells the seal what
the log had reached, and wakes the projector and the webhooks through ``on_saved``), the log
positions of an aggregate's events, the turns commands take on one aggregate, and the reference
data and clocks every service reads. Commands live in each aggregate's application service
(``huying.service_layer``), over one ``CommandPath``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import ApplicationRecorder, Notification, Recording
from eventsourcing.popo import POPOApplicationRecorder

from huying.audit.log import StoredLog
from huying.audit.mapper import PastEvents, SealingMapper
from huying.audit.seal import writing_after
from huying.audit.vouch import Voucher
from huying.clock import Clock
from huying.domain.aggregate import HuyingAggregate
from huying.domain.catalog import Catalog
from huying.domain.catalog_edits import CatalogEdits, edits_id, effective
from huying.domain.errors import NotFound
from huying.domain.org import Org
from huying.domain.worktime import WorkCalendar
from huying.eventlog import EventPositions, Positions
from huying.groupcommit import Beside, Expecting, RowsBeside, let_go
from huying.known_events import KnownEvents
from huying.onloop import off_loop
from huying.turns import Turns


class LogScan(Positions):
    """Positions in the library's in-memory store (unit tests): a scan of the log, which the
    few events a test writes make cheap; the SQL stores answer with one indexed query."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        super().__init__()
        self._recorder = recorder

    def of_call(self, call_id: UUID) -> dict[int, int]:
        return {n.originator_version: n.id for n in self._logged(call_id)}

    def _logged(self, aggregate_id: UUID) -> list[Notification]:
        head = self._recorder.max_notification_id() or 0
        found = self._recorder.select_notifications(start=1, limit=head)
        mine = (n for n in found if n.originator_id == aggregate_id)
        return sorted(mine, key=lambda n: n.originator_version)


def fold(events: Iterable[Any]) -> HuyingAggregate:
    """Replays an aggregate's events. (The library's ``project_aggregate`` spends more time in a
    runtime Protocol ``isinstance`` per event than in applying it.)"""
    aggregate: HuyingAggregate | None = None
    for event in events:
        aggregate = event.mutate(aggregate)
    if aggregate is None:
        raise NotFound("nothing under that id")
    return aggregate


def _collected(objs: Iterable[Any], kwargs: dict[str, Any]) -> ProcessingEvent[UUID]:
    """What a save stores: as the library's ``ProcessingEvent.collect_events``, without its two
    runtime-Protocol ``isinstance`` checks per aggregate (a tenth of a command's time in Python
    3.11); huying's aggregates are told by their class, anything else is left to the library."""
    collected: ProcessingEvent[UUID] = ProcessingEvent()
    others = []
    for obj in objs:
        if isinstance(obj, HuyingAggregate):
            collected.events.extend(obj.collect_events())
            collected.aggregates[obj.id] = obj
        else:
            others.append(obj)
    collected.collect_events(*others, **kwargs)
    return collected


class HuyingApplication(Application[UUID]):
    name = "huying"
    mapper: SealingMapper

    def __init__(
        self,
        *,
        env: dict[str, str],
        org: Org,
        catalog: Catalog,
        clock: Clock,
        voucher: Voucher,
        calendar: WorkCalendar | None = None,
    ) -> None:
        self.voucher = voucher  # 封印: the mapper seals what it stores, and vouches for what it reads
        super().__init__(env=env)
        self.org = org
        self.shipped_catalog = catalog  # as the release ships it; ``catalog`` is the one in effect
        self._edits_id = edits_id(org.district.code)
        self._catalog_lock = threading.Lock()
        self._folded: tuple[int, Catalog] = (0, catalog)  # the edits' version folded, and its result
        self.clock = clock
        self.calendar = calendar or WorkCalendar()
        self.positions: Positions
        if isinstance(self.recorder, POPOApplicationRecorder):
            self.positions = LogScan(self.recorder)
        else:
            voucher.locate = StoredLog(self.recorder).locate
            self.positions = EventPositions(self.recorder)
        self.turns = Turns()  # commands on one aggregate take turns in this process
        self.known = KnownEvents()  # what commands may start from (``known_events``)
        self.past_events = PastEvents(self.mapper)  # history and 时间回溯 read them again and again
        self._recorded_listeners: list[Callable[[Sequence[Recording[UUID]]], None]] = []
        # The newest position this process has seen: what each new event's seal says it follows.
        self._seen = int(self.recorder.max_notification_id() or 0)

    def close(self) -> None:
        let_go(self.recorder)  # the group commit's thread, its last group stored first
        super().close()

    @property
    def catalog(self) -> Catalog:
        """The catalog in effect now: the shipped one with the district's edits. Every process
        asks the store for edits newer than those it folded (one indexed read, nothing when
        there are none), so an edit made in any process is in effect for the next command here."""
        return self._refolded()[1]

    def catalog_as_known(self, *, fresh: bool = False) -> tuple[Catalog, Expecting | None]:
        """The catalog as this process last folded it (``fresh``: after the read ``catalog``
        makes), and what a save judged on it expects: the edits still at the version folded.
        The store refuses that save if an edit came since (``ExpectationUnmet``); then the
        caller asks again, fresh. A store that cannot check (the in-memory one) is always read,
        and expects nothing."""
        if not getattr(self.recorder, "checks_expectations", False):
            return self.catalog, None
        version, catalog = self._refolded() if fresh else self._folded
        return catalog, Expecting(self._edits_id, version)

    def _refolded(self) -> tuple[int, Catalog]:
        """The edits' version and the catalog in effect, after folding any edits stored since."""
        folded = self._folded
        newer = list(self.events.get(self._edits_id, gt=folded[0]))
        if not newer:
            return folded
        with self._catalog_lock:
            if self._folded[0] < newer[-1].originator_version:
                edits = fold(self.events.get(self._edits_id))
                assert isinstance(edits, CatalogEdits)
                self._folded = (edits.version, effective(self.shipped_catalog, edits))
            return self._folded

    def construct_mapper(self) -> SealingMapper:
        return SealingMapper(self.construct_transcoder(), self.voucher)

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Called with the log position after every local save (wakes the projector)."""
        self.on_recorded(lambda recordings: listener(recordings[-1].notification.id))

    def on_recorded(self, listener: Callable[[Sequence[Recording[UUID]]], None]) -> None:
        """Called with the events of every local save and the positions the store gave them."""
        self._recorded_listeners.append(listener)

    def save(self, *objs: Any, beside: Beside | None = None, **kwargs: Any) -> Any:
        """The library's ``save``, sealed and told to this process's listeners. ``beside``: what
        is stored before the events — with them, in the same turn of the group commit, when the
        store can (``RowsBeside``); else alone, first."""
        if beside is not None:
            if isinstance(beside, RowsBeside) and getattr(self.recorder, "stores_beside", False):
                kwargs["beside"] = beside
            else:
                off_loop(beside.store)  # it may wait on the database: not on the event loop
        with writing_after(self._seen):
            collected = _collected(objs, kwargs)
            recordings = self._record(collected)  # what the library's ``save`` does with them
            self._take_snapshots(collected)
            self._notify(recordings)
        if recordings:
            # A lost race between threads leaves an older position here: still one that exists.
            self._seen = max(self._seen, recordings[-1].notification.id)
            self.known.saved([r.domain_event for r in recordings])
            self.positions.saved(
                (r.domain_event.originator_id, r.domain_event.originator_version, r.notification.id)
                for r in recordings
            )
            for listener in self._recorded_listeners:
                listener(recordings)
        return recordings

    def current(self, aggregate_id: UUID) -> HuyingAggregate | None:
        """The aggregate as it stands now, from the event store, whatever its kind."""
        events = list(self.events.get(aggregate_id))
        self.known.read(aggregate_id, events)
        return fold(events) if events else None

    def recalled(self, aggregate_id: UUID) -> HuyingAggregate | None:
        """The aggregate as this process last knew it (``known_events``), or None: only a
        command's first try may start from it."""
        events = self.known.of(aggregate_id)
        return fold(events) if events else None
