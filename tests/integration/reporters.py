"""Calls with a reporter, over HTTP, for the privacy tests: who asks, a raise body, and the few
requests those tests make."""

from __future__ import annotations

from typing import Any

from httpx import Client

Who = tuple[str, str]

GRID_WORKER: Who = ("grid_worker", "LW-LN-01-G01")
COMMUNITY: Who = ("community", "LW-LN-01")  # the origin community: sees the contact in full
STREET: Who = ("street", "LW-LN")  # sees it masked
SUPERVISOR: Who = ("supervisor", "LW")  # sees it in full; may erase it
AUDITOR: Who = ("auditor", "LW")
CALLS = "/api/v1/calls"
NAME, PHONE = "张三", "13812345678"


def raise_body(name: str = NAME, phone: str = PHONE, **changes: Any) -> dict[str, Any]:
    """A raise by the grid worker of LW-LN-01-G01 with a reporter; ``reporter=None`` leaves it out."""
    body: dict[str, Any] = {
        "item_code": "C01-01",
        "grid_code": GRID_WORKER[1],
        "title": "楼道垃圾堆积",
        "description": "三楼楼道垃圾无人清运",
        "channel": "grid_worker",
        "reporter": {"name": name, "phone": phone},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


class Http:
    def __init__(self, client: Client, tokens: Any) -> None:
        self.client, self.tokens = client, tokens

    def raise_call(self, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        response = self.client.post(CALLS, json=body, headers=self.tokens.headers(*GRID_WORKER, key=key))
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, path: str, who: Who, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.tokens.headers(*who))
        assert response.status_code == 200, f"{path} as {who}: {response.text}"
        return response

    def reporter(self, call_id: str, who: Who = COMMUNITY) -> Any:
        return self.get(f"{CALLS}/{call_id}", who).json()["reporter"]

    def erase(self, call_id: str) -> None:
        erased = self.client.delete(f"{CALLS}/{call_id}/reporter", headers=self.tokens.headers(*SUPERVISOR))
        assert erased.status_code == 200 and erased.json()["reporter"] is None, erased.text
