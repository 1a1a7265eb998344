"""A rebuild in parts: every read model made again from the log by several processes at once.

``huying rebuild`` drops the read models and replays the whole log. One process does that at
~13,000 events/s on SQLite, most of it Python (decoding, folding, making rows, the tallies'
recount), so a machine's other cores sit idle. In parts, each of ``workers`` forked processes
projects the aggregates whose id falls to it (``Part``), over the log as it stood when the
rebuild began, on a tracking row of its own; then each recounts the SLA tallies of the calls
raised in one slice of time (``tallies.Slice``) while this process recounts the others; and one
transaction puts the position at the end the parts reached, with the tallies in step.

What keeps it exactly once:

- While the parts run, the read models' position stands at ``REBUILDING``. No projector moves
  it: one that reads it waits, and a batch read before stays uncommitted (its move is
  conditional on the position it started from).
- The rebuild holds the ``rebuild`` lock throughout. A projector that finds the position at
  ``REBUILDING`` with the lock free knows the rebuild died: it drops its rows and projects from
  the start (``Projector._start``).
- A part that cannot go on — an event it cannot vouch for, an error — ends the rebuild in
  parts: the read models are dropped again and one process rebuilds them alone, halting where
  the log's first flaw is, as a rebuild always has.

Workers are forked, not spawned: they start in milliseconds with everything imported, and each
opens its own connections (``open_services``), never one of this process's.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise, zip_longest
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification
from sqlalchemy import delete, func, select

from huying.locks import duty_lock
from huying.projections import tracking
from huying.projections.runner import PARTS_NAMED, REBUILDING, TRACKING_NAME, ProjectorRace
from huying.projections.tables import projection_tracking, rm_calls, rm_sla_tallies
from huying.projections.tallies import SlaKey, SlaTallies, Slice, TallyKeeper, merged
from huying.supervision import stop_when_orphaned

if TYPE_CHECKING:
    from huying.bootstrap import Services

log = logging.getLogger(__name__)

REBUILD_LOCK = "rebuild"  # held by a rebuild in parts while it runs (``huying.locks``)
# Fewer events than this are rebuilt by one process: starting workers would cost more.
IN_PARTS_FROM = 20_000


class RebuildUnderWay(Exception):
    """Another rebuild holds the lock."""


@dataclass(frozen=True)
class Rebuilt:
    events: int  # projected
    parts: int  # the processes that projected them at once (1: this one alone)


@dataclass(frozen=True)
class Part:
    """The aggregates whose id's number leaves ``index`` divided by ``of``, projected up to the
    log's position ``until``."""

    index: int
    of: int
    until: int

    @property
    def name(self) -> str:
        """Its tracking row."""
        return f"{PARTS_NAMED}{self.index + 1} of {self.of}"

    def select(self, recorder: object, start: int, limit: int) -> Sequence[Notification]:
        """Its next notifications after ``start``: those of its aggregates alone, picked by the
        database (``takes`` in SQL)."""
        if not isinstance(recorder, PartSelecting):
            raise TypeError(f"{type(recorder).__name__} cannot read a part of the log")
        return recorder.select_notifications_of_part(start, limit, self.until, self.index, self.of)

    def takes(self, n: Notification) -> bool:
        """Whether the aggregate of ``n`` is its: the last hexadecimal digit of its id (what
        ``select_notifications_of_part`` asks of each row)."""
        return (cast(UUID, n.originator_id).int & 0xF) % self.of == self.index


@runtime_checkable
class PartSelecting(Protocol):
    def select_notifications_of_part(
        self, start: int, limit: int, stop: int, index: int, of: int
    ) -> Sequence[Notification]: ...


def default_workers() -> int:
    """One per core this process may run on."""
    return max(len(os.sched_getaffinity(0)), 1)


Progress = Callable[[int], None]  # told the log position the rebuild has reached, now and then
Answer = tuple[str, object]  # a worker's: ("done", what it found), or ("halted" | "failed", why)
Task = Callable[["Services", Any], Answer]  # what a worker does with what it is told


def rebuild(
    services: Services,
    open_services: Callable[[], Services],
    workers: int,
    on_progress: Progress | None = None,
    *,
    in_parts_from: int | None = None,
) -> Rebuilt:
    """Drop every read model and make it again from the log: in ``workers`` parts when there
    are two or more and the log holds ``in_parts_from`` (``IN_PARTS_FROM``) events or more,
    else in this process. ``open_services`` opens the same deployment anew (in a worker). The
    projector's ``halted`` says if it stopped before an event it cannot vouch for."""
    lock = duty_lock(services.settings, REBUILD_LOCK)
    if not lock.acquire():
        raise RebuildUnderWay("another rebuild is under way")
    try:
        told = on_progress or (lambda _: None)
        enough = IN_PARTS_FROM if in_parts_from is None else in_parts_from
        if workers < 2 or (services.app.recorder.max_notification_id() or 0) < enough:
            return Rebuilt(_alone(services, told), 1)
        return _in_parts(services, open_services, workers, told)
    finally:
        lock.release()


def _in_parts(
    services: Services, open_services: Callable[[], Services], workers: int, on_progress: Progress
) -> Rebuilt:
    projector = services.projector
    end = services.app.recorder.max_notification_id() or 0
    parts = [Part(i, workers, end) for i in range(workers)]
    # Forked first: each opens the deployment while this process drops the read models.
    started = _start_workers(open_services, workers, _rebuild_task)
    try:
        projector.reset(parts)
        for (pipe, _), part in zip(started, parts, strict=True):
            pipe.send(Replay(part, projector.batch_size))
        replayed = _results(started, lambda: on_progress(_reached(services, parts)))
        failed = [
            f"{part.name}: {said}" for part, (how, said) in zip(parts, replayed, strict=True) if how != "done"
        ]
        if failed:  # one process does it all again, and halts where it must
            _dismiss(started)
            log.warning(
                "the rebuild in parts stopped (%s); rebuilding in one process", "; ".join(map(str, failed))
            )
            return Rebuilt(_alone(services, on_progress), 1)
        tallied = _recount(services, started)
        _let_go(started)  # they close their deployments and end while this process finishes
        done = sum(cast(int, said) for _, said in replayed)  # each part's own events
        with services.engine.begin() as conn:
            if not tracking.move(conn, TRACKING_NAME, REBUILDING, end):
                raise ProjectorRace("the read models were reset under the rebuild")
            conn.execute(
                delete(projection_tracking).where(projection_tracking.c.name.startswith(PARTS_NAMED))
            )
            if tallied:
                projector.tallies.in_step_at(conn, end)
        projector.visible(end)
        since = int(projector.catch_up())  # what came since it began (and a recount, had one failed)
        return Rebuilt(done + since, workers)
    finally:
        _dismiss(started)


def _alone(services: Services, on_progress: Progress) -> int:
    projector = services.projector
    projector.reset()
    reached = 0

    def on_batch(n: int) -> None:
        nonlocal reached
        reached += n
        on_progress(reached)

    return projector.catch_up(on_batch)


def _reached(services: Services, parts: Sequence[Part]) -> int:
    """How far every part has got."""
    named = projection_tracking.c.name
    with services.engine.connect() as conn:
        at = conn.execute(
            select(func.min(projection_tracking.c.position)).where(named.in_([p.name for p in parts]))
        )
        return int(at.scalar() or 0)


@dataclass(frozen=True)
class Replay:
    """A worker's first task: project ``part`` in batches of ``batch_size`` (the rebuild's)."""

    part: Part
    batch_size: int


def _rebuild_task(services: Services, told: Replay | Slice) -> Answer:
    """A rebuild's worker's tasks: its part replayed, then the SLA tallies of a slice of the
    calls recounted (``_recount``)."""
    if isinstance(told, Replay):
        return _replay(services, told)
    return _recount_slice(services, told)


def _replay(services: Services, told: Replay) -> Answer:
    projector = services.projector
    projector.batch_size = told.batch_size  # as this process's: the rebuild's
    projector.take_part(told.part)
    done = projector.catch_up()
    flaw = projector.halted
    return ("halted", flaw.sentence()) if flaw else ("done", done)


def _recount(services: Services, started: Started) -> bool:
    """The tallies afresh over the rebuilt rows: the SLA tallies by slices of the calls in the
    workers that replayed the parts (their second task, on the deployment they have open), the
    others here meanwhile; what a slice's calls changed in later slices' blocks is added last.
    False if a worker failed (the tallies are left behind, to be recounted)."""
    keeper = services.projector.tallies
    sla = _sla(keeper)
    with services.engine.begin() as conn:
        conn.execute(delete(rm_sla_tallies))
    slices = _slices(services, len(started))
    for (pipe, _), calls in zip_longest(started, slices):
        pipe.send(calls)  # None (fewer slices than workers): nothing more to do
    for tally in keeper.tallies:
        if tally is not sla:
            keeper.write(services.engine, tally.recount(services.engine))
    counted = _results(started[: len(slices)])
    if any(how != "done" for how, _ in counted):
        log.warning("the SLA tallies' recount in slices failed: %s", counted)
        return False
    left = merged([cast(dict[SlaKey, Any], said) for _, said in counted])
    keeper.write(services.engine, sla.add_left(services.engine, left))
    return True


def _slices(services: Services, n: int) -> list[Slice]:
    """The calls cut in ``n`` slices of about as many, by when they were raised."""
    raised = rm_calls.c.raised_at
    with services.engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(rm_calls)).scalar_one())
        cuts: list[datetime] = []
        for k in range(1, n):
            at = conn.execute(
                select(raised).order_by(raised, rm_calls.c.call_id).offset(count * k // n).limit(1)
            )
            found = at.scalar()
            if found is not None and (not cuts or found > cuts[-1]):
                cuts.append(found)
    bounds: list[datetime | None] = [None, *cuts, None]
    return [Slice(since, until) for since, until in pairwise(bounds)]


def _recount_slice(services: Services, calls: Slice) -> Answer:
    keeper = services.projector.tallies
    left: dict[SlaKey, Any] = {}
    keeper.write(services.engine, _sla(keeper).recount_slice(services.engine, calls, left))
    return ("done", left)


def _sla(keeper: TallyKeeper) -> SlaTallies:
    return next(t for t in keeper.tallies if isinstance(t, SlaTallies))


# --- the workers ---------------------------------------------------------------------------------

Started = list[tuple[Pipe, Any]]  # each worker's end of its pipe, and its process
_LOOK_APART = 1.0


def _start_workers(open_services: Callable[[], Services], n: int, task: Task) -> Started:
    """``n`` forked processes, each on the deployment it opens, doing ``task`` with each thing
    it is told on its pipe and answering there, until it is told None (``_dismiss``). A worker
    keeps its deployment from one thing to the next: the SLA recount after the replay (forked
    and opened anew, it cost 50–100 ms of a 1.4 s rebuild of 20,000 events). Every worker
    started is ``_dismiss``ed."""
    forked = multiprocessing.get_context("fork")
    started: Started = []
    # What this process holds is shared with the workers, page by page, until either writes to
    # it. Out of the cyclic collector's reach while they fork, a worker's collections do not walk
    # it (each walk writes to every object it passes, and so copies its page): a quarter fewer
    # pages copied, a rebuild of 20,000 events 6% sooner. A process that froze its heap itself
    # (``duties.settle_the_collector``) keeps it frozen: unfrozen, every full pass of its
    # collector would walk again what it had put out of reach.
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        for _ in range(n):
            ours, theirs = forked.Pipe()
            process = forked.Process(
                target=_answering, args=(open_services, task, theirs, os.getpid()), daemon=True
            )
            process.start()
            theirs.close()  # the worker's end: the pipe ends when the worker does
            started.append((ours, process))
    finally:
        if not frozen_before:
            gc.unfreeze()  # this process's own collections as before
    return started


def _answering(open_services: Callable[[], Services], task: Task, pipe: Pipe, parent: int) -> None:
    stop_when_orphaned(parent)  # a rebuild killed outright takes its workers with it
    try:
        services = open_services()
        try:
            while (told := _told(pipe)) is not None:
                pipe.send(task(services, told))
        finally:
            services.close()
    except BaseException as e:
        first_line = str(e).partition("\n")[0][:300]  # a database error repeats its statement
        pipe.send(("failed", f"{type(e).__name__}: {first_line}"))
        raise


def _told(pipe: Pipe) -> Any:
    """What to do next (None: nothing more; the pipe closed: the same)."""
    try:
        return pipe.recv()
    except EOFError:
        return None


def _results(started: Started, meanwhile: Callable[[], None] | None = None) -> list[Answer]:
    """Each worker's next answer, in order; a worker that ended without one failed. Once one has
    failed, the others are stopped: their work is given up. ``meanwhile`` is called every
    ``_LOOK_APART`` seconds while they work."""
    answers: dict[int, Answer] = {}
    pending = {id(pipe): (i, pipe) for i, (pipe, _) in enumerate(started)}
    while pending:
        ready = wait([pipe for _, pipe in pending.values()], _LOOK_APART)
        if not ready and meanwhile is not None:
            meanwhile()
        for pipe in ready:
            i, _ = pending.pop(id(pipe))
            answers[i] = _answer(cast(Pipe, pipe))
            if answers[i][0] != "done":
                for j, _ in pending.values():
                    started[j][1].terminate()
    return [answers[i] for i in range(len(started))]


def _answer(pipe: Pipe) -> Answer:
    try:
        answer: Answer = pipe.recv()
    except EOFError:
        answer = ("failed", "ended without an answer")
    return answer


def _let_go(started: Started) -> None:
    """Every worker told there is nothing more to do."""
    for pipe, _ in started:
        with suppress(OSError, ValueError):  # it ended already, or was told before
            pipe.send(None)
        pipe.close()


def _dismiss(started: Started) -> None:
    """Every worker let go and waited for; one still at work after ``_LOOK_APART`` (its work
    given up: the rebuild failed here) is stopped."""
    _let_go(started)
    for _, process in started:
        process.join(_LOOK_APART)
        if process.is_alive():
            process.terminate()
            process.join()
