"""The rebuild's workers: forked with this process's heap out of the cyclic collector's reach,
so that their collections do not copy its pages (this process's own collector is left as it
was); each does its task with every thing it is told, on the deployment it opened once (the
replay of a part, then the SLA recount of a slice); and every one is gone once dismissed."""

from __future__ import annotations

import gc
import os
import threading
from typing import Any

from huying.projections.rebuild import Answer, _dismiss, _results, _start_workers

_opened: list[int] = []  # in a worker: the deployments it opened


class _NoServices:
    def close(self) -> None:
        pass


def _open() -> Any:
    _opened.append(os.getpid())
    return _NoServices()


def _frozen_here(_services: object, _told: object) -> Answer:
    return ("done", gc.get_freeze_count())


def _told_and_opened(_services: object, told: Any) -> Answer:
    return ("done", (told, os.getpid(), len(_opened)))


def _fails(_services: object, told: Any) -> Answer:
    if told == "a slice":
        raise RuntimeError(f"no rows for {told}\nSQL: SELECT …")
    return ("done", told)


def _never_done(_services: object, told: Any) -> Answer:
    if told == "forever":
        threading.Event().wait()  # a part whose work was given up, still at it
    return ("done", told)


def _tell(started: list[Any], *told: Any) -> list[Answer]:
    for (pipe, _), thing in zip(started, told, strict=True):
        pipe.send(thing)
    return _results(started)


def test_workers_start_with_the_heap_frozen_and_this_process_as_it_was() -> None:
    before = gc.get_freeze_count()
    objects = len(gc.get_objects())

    started = _start_workers(_open, 1, _frozen_here)
    [(how, frozen)] = _tell(started, "a part")
    _dismiss(started)

    assert how == "done" and isinstance(frozen, int)
    assert frozen >= before + objects // 2  # the heap as it was when the worker forked
    assert gc.get_freeze_count() == before


def test_a_process_that_froze_its_heap_keeps_it_frozen() -> None:
    """A settled process (``duties.settle_the_collector``) starting workers: what it froze stays
    out of its collector's reach afterwards, as it put it."""
    before = gc.get_freeze_count()
    gc.freeze()  # as a settled process did
    try:
        settled = gc.get_freeze_count()
        assert settled > 0
        _dismiss(_start_workers(_open, 1, _frozen_here))
        assert gc.get_freeze_count() >= settled
    finally:
        if not before:
            gc.unfreeze()  # this test's process as it was


def test_a_worker_does_each_thing_it_is_told_on_the_deployment_it_opened_once() -> None:
    started = _start_workers(_open, 2, _told_and_opened)
    first = _tell(started, "part 1", "part 2")
    then = _tell(started, "slice 1", "slice 2")
    _dismiss(started)

    pids = [pid for _, (_, pid, _) in first]
    assert first == [("done", ("part 1", pids[0], 1)), ("done", ("part 2", pids[1], 1))]
    assert then == [("done", ("slice 1", pids[0], 1)), ("done", ("slice 2", pids[1], 1))]
    assert pids[0] != pids[1]
    assert [process.exitcode for _, process in started] == [0, 0]  # told None: they ended


def test_a_task_that_fails_answers_why_in_one_line_and_ends_its_worker() -> None:
    started = _start_workers(_open, 1, _fails)
    replayed = _tell(started, "a part")
    [answer] = _tell(started, "a slice")
    _dismiss(started)

    assert replayed == [("done", "a part")]
    assert answer == ("failed", "RuntimeError: no rows for a slice")
    assert started[0][1].exitcode not in (None, 0)


def test_dismissed_workers_are_gone_even_one_still_at_work() -> None:
    started = _start_workers(_open, 2, _never_done)
    started[1][0].send("forever")
    _dismiss(started)

    assert [process.is_alive() for _, process in started] == [False, False]
    assert started[0][1].exitcode == 0  # told there was nothing more: it ended by itself
    assert started[1][1].exitcode is not None and started[1][1].exitcode < 0  # stopped
