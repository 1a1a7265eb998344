"""One way every console form is sent and answered: the move goes through the API's own route
function; a refusal is shown on the page it came from with the API's status (the field it names
beside it), a success is a redirect to the page that shows its effect, remembering the write's
log position so that read-model pages wait for it (read-your-writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from huying.domain.errors import DomainError, InvalidCommand
from huying.services.photos import AttachmentRefused
from huying.web.context import remember_write
from huying.web.forms import field_errors
from huying.web.render import refusal_status


class Written(Protocol):
    """What a write answers with: the aggregate's id and the log position of the write."""

    @property
    def id(self) -> str: ...
    @property
    def position(self) -> int: ...


Show = Callable[[dict[str, str], int], Response]  # the page again, with these errors, this status


async def sent(
    send: Callable[[], Awaitable[Written]], show: Show, done: Callable[[str], str], move: str
) -> Response:
    """Sends a form's move; the page it came from with the refusal, or a redirect to ``done(id)``."""
    try:
        outcome = await send()
    except ValueError as e:  # ValidationError is one; so is a move the table does not have
        return show(field_errors(e) if isinstance(e, ValidationError) else {"move": f"no move {move!r}"}, 422)
    except AttachmentRefused as e:
        return show({"photo": e.detail}, e.status)
    except DomainError as e:
        return show({e.field if isinstance(e, InvalidCommand) else move: e.detail}, refusal_status(e))
    response = RedirectResponse(done(outcome.id), status_code=303)
    remember_write(response, outcome.position)
    return response
