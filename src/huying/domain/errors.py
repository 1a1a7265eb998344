"""Domain errors: each names the rule that refused the move.

They are mapped to HTTP in exactly one place (``huying.api.problems``).
"""

from __future__ import annotations


class DomainError(Exception):
    """A command the domain refuses."""

    kind = "domain-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotPermitted(DomainError):
    """The principal is not who the transition table names for this action right now (403)."""

    kind = "not-permitted"


class TransitionNotAllowed(DomainError):
    """The principal may act, but the call's state forbids the move (409)."""

    kind = "transition-not-allowed"


class StaleVersion(DomainError):
    """``If-Match`` named a version the call has moved past (412)."""

    kind = "stale-version"


class InvalidCommand(DomainError):
    """The command's content is invalid regardless of the call's state (422)."""

    kind = "invalid-request"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(DomainError):
    """No such thing, or not in the principal's jurisdiction: existence does not leak (404)."""

    kind = "not-found"


class CallNotFound(NotFound):
    """No such call, or not in the principal's jurisdiction (404)."""


class IdempotencyKeyReused(InvalidCommand):
    """The same Idempotency-Key came back with a different body (422)."""

    kind = "idempotency-key-reused"

    def __init__(self, detail: str) -> None:
        super().__init__("Idempotency-Key", detail)


class ConcurrentModification(DomainError):
    """Others kept writing to this call while we retried (409)."""

    kind = "concurrent-modification"


class DirectiveNotFound(NotFound):
    """No such directive, or not in the principal's jurisdiction (404)."""


class MeetingNotFound(NotFound):
    """No such joint meeting, or not in the principal's jurisdiction (404)."""


class PublicationNotFound(NotFound):
    """No such published 考评, or none of its rows in the principal's jurisdiction (404)."""


class CatalogItemNotFound(NotFound):
    """No item with that code in the catalog, in effect or retired (404)."""
