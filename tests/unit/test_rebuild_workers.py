"""The rebuild's workers: forked with this process's heap out of the cyclic collector's reach,
so that their collections do not copy its pages (this process's own collector is left as it
was); each does its job, then — told what with — its follow-up on the deployment it opened for
the job (the SLA recount after the replay); and every one is gone once dismissed."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path
from typing import Any

from huying.projections.rebuild import Answer, _dismiss, _results, _start_workers

_opened: list[int] = []  # in a worker: the deployments it opened


class _NoServices:
    def close(self) -> None:
        pass


def _open() -> Any:
    _opened.append(os.getpid())
    return _NoServices()


def _frozen_here(_services: object) -> Answer:
    return ("done", gc.get_freeze_count())


def _pid(_services: object) -> Answer:
    return ("done", os.getpid())


def _told_and_opened(services: object, told: Any) -> Answer:
    return ("done", (told, os.getpid(), len(_opened)))


def test_workers_start_with_the_heap_frozen_and_this_process_as_it_was() -> None:
    before = gc.get_freeze_count()
    objects = len(gc.get_objects())

    started = _start_workers(_open, [_frozen_here])
    [(how, frozen)] = _results(started)
    _dismiss(started)

    assert how == "done" and isinstance(frozen, int)
    assert frozen >= before + objects // 2  # the heap as it was when the worker forked
    assert gc.get_freeze_count() == before


def test_a_worker_does_its_follow_up_with_what_it_is_told_on_the_deployment_it_opened() -> None:
    started = _start_workers(_open, [_pid, _pid], then=_told_and_opened)
    pids = [said for _, said in _results(started)]
    for (pipe, _), told in zip(started, ["first slice", "second slice"], strict=True):
        pipe.send(told)
    followed = _results(started)
    _dismiss(started)

    assert followed == [
        ("done", ("first slice", pids[0], 1)),
        ("done", ("second slice", pids[1], 1)),  # opened once, for the job: not again
    ]
    assert [process.exitcode for _, process in started] == [0, 0]


def _marks(tmp: Path) -> Any:
    def follow_up(_services: object, told: Any) -> Answer:
        (tmp / f"followed-{os.getpid()}").write_text(str(told))
        return ("done", None)

    return follow_up


def test_a_worker_told_nothing_ends_after_its_job(tmp_path: Path) -> None:
    started = _start_workers(_open, [_pid], then=_marks(tmp_path))
    [(how, _)] = _results(started)
    started[0][0].send(None)
    _dismiss(started)

    assert how == "done" and started[0][1].exitcode == 0
    assert list(tmp_path.iterdir()) == []  # the follow-up never ran


def _fails(_services: object, told: Any) -> Answer:
    raise RuntimeError(f"no rows for {told}\nSQL: SELECT …")


def test_a_follow_up_that_fails_answers_why_in_one_line() -> None:
    started = _start_workers(_open, [_pid], then=_fails)
    _results(started)
    started[0][0].send("a slice")
    [answer] = _results(started)
    _dismiss(started)

    assert answer == ("failed", "RuntimeError: no rows for a slice")
    assert started[0][1].exitcode != 0


def _never_done(_services: object) -> Answer:
    threading.Event().wait()  # a part whose work was given up, still at it
    raise AssertionError("unreachable")


def test_dismissed_workers_are_gone_even_one_still_at_work() -> None:
    started = _start_workers(_open, [_pid, _never_done], then=_told_and_opened)
    _dismiss(started)

    assert [process.is_alive() for _, process in started] == [False, False]
    assert started[0][1].exitcode == 0  # told there was nothing more: it ended by itself
    assert started[1][1].exitcode is not None and started[1][1].exitcode < 0  # stopped
