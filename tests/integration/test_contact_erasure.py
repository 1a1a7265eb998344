"""个人信息删除 destroys at once: right after ``DELETE /api/v1/calls/{id}/reporter`` — the server still
running, nothing checkpointed or vacuumed by hand — no byte in the data directory, tried with every
key the directory holds, gives the erased reporter back; everyone else's contacts still open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from huying.settings import Settings

from .contact_disk import Erased, capture, recoverable

GRID_WORKER = ("grid_worker", "LW-LN-01-G01")
COMMUNITY = ("community", "LW-LN-01")
SUPERVISOR = ("supervisor", "LW")
CALLS = "/api/v1/calls"


def reporter(n: int) -> dict[str, str]:
    return {"name": f"张{'三四五六七八九十'[n % 8]}{'甲乙丙丁'[n // 8 % 4]}", "phone": f"1381234{n:04d}"}


def raise_with(client: TestClient, tokens: Any, n: int) -> dict[str, Any]:
    body = {
        "item_code": "C01-01",
        "grid_code": GRID_WORKER[1],
        "title": f"楼道垃圾堆积 {n}",
        "description": "三楼楼道垃圾无人清运",
        "channel": "grid_worker",
        "reporter": reporter(n),
    }
    answer = client.post(CALLS, json=body, headers=tokens.headers(*GRID_WORKER))
    assert answer.status_code == 201, answer.text
    raised: dict[str, Any] = answer.json()
    return raised


def ref_of(client: TestClient, tokens: Any, call_id: str) -> str:
    history = client.get(f"{CALLS}/{call_id}/history", headers=tokens.headers(*SUPERVISOR)).json()
    ref: str = history["data"][0]["data"]["reporter_ref"]
    return ref


def test_right_after_an_erasure_nothing_on_disk_gives_the_reporter_back(
    client: TestClient, tokens: Any, settings: Settings
) -> None:
    data_dir: Path = settings.data_dir
    calls = [raise_with(client, tokens, n)["id"] for n in range(60)]  # enough to split pages
    chosen = {0: calls[0], 29: calls[29], 59: calls[59]}
    erased: list[Erased] = []
    for n, call_id in chosen.items():
        contact = reporter(n)
        erased.append(capture(data_dir, ref_of(client, tokens, call_id), contact["name"], contact["phone"]))
        gone = client.delete(f"{CALLS}/{call_id}/reporter", headers=tokens.headers(*SUPERVISOR))
        assert gone.status_code == 200 and gone.json()["reporter"] is None, gone.text

    assert recoverable(data_dir, erased) == []
    kept = client.get(f"{CALLS}/{calls[30]}", headers=tokens.headers(*COMMUNITY)).json()
    assert kept["reporter"] == reporter(30)
