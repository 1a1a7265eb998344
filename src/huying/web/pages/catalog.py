"""管理 › 呼应事项清单: the admin adds an item, changes one, retires (停用) or restores it — through
the API's own route functions, so the one gate and the catalog file's rules judge every form as
they judge the API's bodies. The organisation stays as shipped (view-only, on the admin page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from huying.api.routers import reference as api
from huying.api.schemas.catalog import ItemChange, NewItem, Reason
from huying.domain.catalog import Item, LevelSla, Priority, TimeLimit, TimeUnit
from huying.domain.errors import CatalogItemNotFound, NotPermitted
from huying.domain.levels import Level
from huying.domain.org import UnitKind
from huying.domain.principal import Role
from huying.web.acting import sent
from huying.web.context import PostedForm, Viewer, services_of
from huying.web.forms import body_fields, field, identity
from huying.web.pages import page_router, register
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()
ItemCode = Annotated[str, Path(max_length=64)]
PARTS = ("response", "resolution")


@dataclass(frozen=True)
class Edited:
    id: str  # the item's code
    position: int


def _admin(session: Session) -> None:
    """Who sees the forms; the gate judges who may send them (``domain.catalog_edits``)."""
    if session.principal.role is not Role.ADMIN:
        raise NotPermitted("the catalog: only an admin edits it")


def _form_page(
    request: Request,
    session: Session,
    item: Item | None,
    errors: dict[str, str],
    status: int,
    done: str | None,
) -> Response:
    _admin(session)
    s = services_of(request)
    catalog = s.app.catalog
    return page(
        request,
        "catalog_item.html",
        session,
        status,
        title=f"事项 {item.code}" if item else "新增事项 Add an item",
        item=item,
        retired=item is not None and item.code in catalog.retired,
        catalog=catalog,
        departments=s.app.org.of_kind(UnitKind.DEPARTMENT),
        priorities=list(Priority),
        units=list(TimeUnit),
        levels=list(Level),
        parts=PARTS,
        sla=_sla_of(item),
        errors=errors,
        done=done,
    )


def _sla_of(item: Item | None) -> dict[str, TimeLimit]:
    """``level.part`` → the limit the form shows (a new item's start at 1 working day)."""
    blank = LevelSla(TimeLimit(1, TimeUnit.WORKING_DAYS), TimeLimit(1, TimeUnit.WORKING_DAYS))
    policy = {level: item.sla[level] if item else blank for level in Level}
    return {f"{level.value}.{part}": getattr(policy[level], part) for level in Level for part in PARTS}


@router.get("/console/admin/catalog/new")
def new_item(request: Request, session: Viewer) -> Response:
    return _form_page(request, session, None, {}, 200, None)


@router.get("/console/admin/catalog/{code}")
def item_page(
    request: Request,
    code: ItemCode,
    session: Viewer,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    catalog = services_of(request).app.catalog
    item = catalog.item(code)
    if item is None:
        raise CatalogItemNotFound(f"no item {code} in catalog {catalog.version}")
    return _form_page(request, session, item, {}, 200, done)


def _body(form: FormData, model: type[NewItem] | type[ItemChange]) -> dict[str, Any]:
    """The form as the API's body: its fields, and the SLA table as the nested policy."""
    data = body_fields(form, model)
    data["sla"] = {
        level.value: {part: _limit(form, f"sla.{level.value}.{part}") for part in PARTS} for level in Level
    }
    return data


def _limit(form: FormData, name: str) -> dict[str, int | str]:
    amount = field(form, f"{name}.amount") or ""
    # A number as typed; anything else is passed on for the catalog's rule to name.
    return {"amount": int(amount) if amount.isdigit() else amount, "unit": field(form, f"{name}.unit") or ""}


def _done(code: str, what: str) -> str:
    return f"/console/admin/catalog/{code}?done={what}"


@router.post("/console/admin/catalog")
async def add(request: Request, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return _form_page(request, session, None, errors, status, None)

    async def send() -> Edited:
        body = NewItem.model_validate(_body(form, NewItem))
        answer = await run_in_threadpool(lambda: api.add_item(body, p, s, identity(form), Response()))
        return Edited(body.code, answer.position or 0)

    return await sent(send, show, lambda code: _done(code, "added"), "add_item")


@router.post("/console/admin/catalog/{code}")
async def change(request: Request, code: ItemCode, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return _form_page(request, session, s.app.catalog.item(code), errors, status, None)

    async def send() -> Edited:
        body = ItemChange.model_validate(_body(form, ItemChange))
        answer = await run_in_threadpool(
            lambda: api.change_item(code, body, p, s, identity(form), Response())
        )
        return Edited(code, answer.position or 0)

    return await sent(send, show, lambda c: _done(c, "changed"), "change_item")


@router.post("/console/admin/catalog/{code}/{move}")
async def retire_or_restore(
    request: Request,
    code: ItemCode,
    move: Annotated[str, Path(pattern="^(retire|restore)$")],
    session: Viewer,
    form: PostedForm,
) -> Response:
    s, p = services_of(request), session.principal
    route = api.retire_item if move == "retire" else api.restore_item

    def show(errors: dict[str, str], status: int) -> Response:
        return _form_page(request, session, s.app.catalog.item(code), errors, status, None)

    async def send() -> Edited:
        body = Reason.model_validate({"reason": field(form, "reason") or ""})
        answer = await run_in_threadpool(lambda: route(code, body, p, s, identity(form), Response()))
        return Edited(code, answer.position or 0)

    return await sent(send, show, lambda c: _done(c, f"{move}d"), f"{move}_item")


register(router)
