"""The admin edits the catalog from the console (both backends): the admin page lists the items in
effect with their edit pages and says the organisation is view-only; the forms add, change and
retire an item through the API's own routes (CSRF as every form); a refused form names the field
and writes nothing; anyone but the admin is refused (403) and writes nothing."""

from __future__ import annotations

from httpx import Client

from conftest import Tokens
from huying.bootstrap import Services
from integration.test_console_sessions import _hidden, events, sign_in

LIMITS = {
    f"sla.{level}.{part}.{k}": v
    for level in ("community", "street", "department")
    for part in ("response", "resolution")
    for k, v in (("amount", "3"), ("unit", "working_hours"))
}
NEW = {
    "code": "C01-04",
    "category": "C01",
    "name": "餐厨垃圾外溢",
    "trigger": "餐饮店餐厨垃圾桶满溢未清运，污水流入人行道",
    "standard": "当日清运并冲洗路面",
    "lead_department": "CG",
    "assisting_departments": "ZJ",
    "priority": "high",
    **LIMITS,
}


def form_of(client: Client, url: str) -> dict[str, str]:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return {"csrf": _hidden(page.text, "csrf"), "idempotency_key": _hidden(page.text, "idempotency_key")}


def test_the_admin_adds_changes_and_retires_an_item_from_the_console(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("admin", "LW"))
    admin_page = client.get("/console/admin").text
    assert "只读" in admin_page and 'href="/console/admin/catalog/C01-01"' in admin_page
    new_form = client.get("/console/admin/catalog/new").text
    assert all(f'name="{name}"' in new_form for name in (*NEW, "csrf", "idempotency_key")), new_form
    added = client.post(
        "/console/admin/catalog",
        data={**NEW, **form_of(client, "/console/admin/catalog/new")},
        follow_redirects=False,
    )
    assert (
        added.status_code == 303 and added.headers["location"] == "/console/admin/catalog/C01-04?done=added"
    )
    page = client.get(added.headers["location"]).text
    assert "已新增事项" in page and "2026.1+1" in page and "餐厨垃圾外溢" in page
    item = services.app.catalog.item("C01-04")
    assert item is not None and item.assisting_departments == ("ZJ",) and item.priority.value == "high"

    change = {**NEW, "name": "餐厨垃圾满溢", **form_of(client, "/console/admin/catalog/C01-04")}
    del change["code"], change["category"]  # not on the change form: an item keeps them
    changed = client.post("/console/admin/catalog/C01-04", data=change, follow_redirects=False)
    assert changed.status_code == 303, changed.text
    assert services.app.catalog.item("C01-04").name == "餐厨垃圾满溢"  # type: ignore[union-attr]

    retire = {"reason": "试点结束", **form_of(client, "/console/admin/catalog/C01-04")}
    retired = client.post("/console/admin/catalog/C01-04/retire", data=retire, follow_redirects=False)
    assert retired.status_code == 303 and "C01-04" in services.app.catalog.retired
    assert "恢复 Restore" in client.get("/console/admin/catalog/C01-04").text
    assert services.app.catalog.version == "2026.1+3"


def test_a_refused_form_names_the_field_and_writes_nothing(
    client: Client, tokens: Tokens, services: Services
) -> None:
    sign_in(client, tokens.token("admin", "LW"))
    before = events(services)
    bad = {**NEW, "sla.street.response.amount": "0", **form_of(client, "/console/admin/catalog/new")}
    answer = client.post("/console/admin/catalog", data=bad)
    assert answer.status_code == 422 and "sla.street.response.amount" in answer.text, answer.text
    forged = client.post("/console/admin/catalog", data={**NEW, "csrf": "forged"})
    assert forged.status_code == 403 and events(services) == before


def test_only_the_admin_may_edit_from_the_console(client: Client, tokens: Tokens, services: Services) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    assert client.get("/console/admin/catalog/C01-01").status_code == 403
    before = events(services)
    own = _hidden(client.get("/console/overview").text, "csrf")  # a form of the supervisor's own
    answer = client.post("/console/admin/catalog/C01-01/retire", data={"reason": "x", "csrf": own})
    assert answer.status_code == 403 and "admin" in answer.text, answer.text
    assert events(services) == before and services.app.catalog.version == "2026.1"
    assert services.app.catalog.in_effect("C01-01") is not None
