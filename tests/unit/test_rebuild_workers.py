"""The rebuild's workers are forked with this process's heap out of the cyclic collector's
reach, so that their collections do not copy its pages; this process's own collector is left
as it was."""

from __future__ import annotations

import gc

from huying.projections.rebuild import Answer, _results, _start_workers


class _NoServices:
    def close(self) -> None:
        pass


def _frozen_here(_services: object) -> Answer:
    return ("done", gc.get_freeze_count())


def test_workers_start_with_the_heap_frozen_and_this_process_as_it_was() -> None:
    before = gc.get_freeze_count()
    objects = len(gc.get_objects())

    [(how, frozen)] = _results(_start_workers(lambda: _NoServices(), [_frozen_here]))  # type: ignore[arg-type, return-value]

    assert how == "done" and isinstance(frozen, int)
    assert frozen >= before + objects // 2  # the heap as it was when the worker forked
    assert gc.get_freeze_count() == before
