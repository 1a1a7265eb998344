"""个人信息删除 destroys at once: right after ``DELETE /api/v1/calls/{id}/reporter`` — the server still
running, nothing checkpointed or vacuumed by hand — no byte in the data directory, tried with every
key the directory holds, gives the erased reporter back; everyone else's contacts still open.
"""

from __future__ import annotations

from typing import Any

from httpx import Client

from huying.settings import Settings

from .contact_disk import Erased, capture, recoverable
from .reporters import CALLS, SUPERVISOR, Http, raise_body


def reporter(n: int) -> dict[str, str]:
    return {"name": f"张{'三四五六七八九十'[n % 8]}{'甲乙丙丁'[n // 8 % 4]}", "phone": f"1381234{n:04d}"}


def ref_of(http: Http, call_id: str) -> str:
    """The reporter_ref its history shows (random: nothing to learn from it)."""
    ref: str = http.get(f"{CALLS}/{call_id}/history", SUPERVISOR).json()["data"][0]["data"]["reporter_ref"]
    return ref


def test_right_after_an_erasure_nothing_on_disk_gives_the_reporter_back(
    client: Client, tokens: Any, settings: Settings
) -> None:
    http = Http(client, tokens)
    calls = [http.raise_call(raise_body(**reporter(n)))["id"] for n in range(60)]  # enough to split pages
    erased: list[Erased] = []
    for n in (0, 29, 59):
        erased.append(capture(settings, ref_of(http, calls[n]), **reporter(n)))
        http.erase(calls[n])

    assert recoverable(settings, erased) == []
    assert http.reporter(calls[30]) == reporter(30), "the others' contacts still open"
