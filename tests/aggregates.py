"""huying's aggregates and their event classes as today's code declares them, for the tests
that every event class is stored in a fixture and has a webhook kind."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from huying.domain.aggregate import HuyingAggregate
from huying.domain.call import Call
from huying.domain.catalog_edits import CatalogEdits
from huying.domain.directive import Directive
from huying.domain.meeting import Meeting
from huying.domain.publication import Publication

KNOWN = (Call, Directive, Meeting, Publication, CatalogEdits)  # imported so that every subclass is defined


def every_aggregate() -> set[type[HuyingAggregate]]:
    """Every aggregate huying itself defines (a test may define its own, e.g. to show a second
    aggregate reusing the command path: those are not stored anywhere)."""
    found, todo = set(), list(HuyingAggregate.__subclasses__())
    while todo:
        found.add(cls := todo.pop())
        todo += cls.__subclasses__()
    return {cls for cls in found if cls.__module__.startswith("huying.")}


def event_classes(aggregate: type[HuyingAggregate]) -> set[type[HuyingAggregate.Event]]:
    """The event classes nested in the aggregate (not its base ``Event``, nor the library's own
    ``Created``, never triggered: each aggregate's first event creates it)."""
    nested = (v for n, v in vars(aggregate).items() if isinstance(v, type) and n not in {"Event", "Created"})
    return {c for c in nested if issubclass(c, aggregate.Event)}


def event_topics(aggregate: type[HuyingAggregate]) -> set[str]:
    """The topics today's code gives the aggregate's event classes in the stored log."""
    return {get_topic(c) for c in event_classes(aggregate)}
