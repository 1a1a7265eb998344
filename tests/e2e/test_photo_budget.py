"""随手拍 within bounded memory (issue 10): a 0.19 MB PNG of 7000×7000 cost ~370 MB to decode
and four at once 2.8 GB. Each photo now has a pixel budget judged from its header before a pixel
is decoded — a big camera JPEG is decoded at a fraction of its size instead, anything else over
it is refused — and only a few photos are decoded at once."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest
from httpx import Client, Response
from PIL import Image
from sqlalchemy import func, select

from huying.bootstrap import Services
from huying.db import attachments
from huying.services.attachments import AttachmentStore
from huying.settings import Settings

UPLOAD = "/api/v1/attachments"
GRID = ("grid_worker", "LW-LN-01-G01")
BUDGET = 1_000_000  # pixels, set small here so the images stay small


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_photo_pixels": BUDGET, "photo_decoders": 1, "photo_decode_wait_seconds": 0}
    )


def image(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(out, fmt)
    return out.getvalue()


def upload(client: Client, tokens: Any, data: bytes) -> Response:
    return client.post(
        UPLOAD, files={"file": ("IMG_0001.jpg", data, "image/jpeg")}, headers=tokens.headers(*GRID)
    )


def kept(services: Services) -> tuple[int, int]:
    """(attachment rows, files) kept."""
    directory = services.settings.attachments_dir
    assert isinstance(directory, Path)
    files = [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []
    with services.engine.connect() as conn:
        rows = int(conn.execute(select(func.count()).select_from(attachments)).scalar_one())
    return rows, len(files)


def test_a_small_png_of_seven_thousand_pixels_a_side_is_refused_before_it_is_decoded(
    client: Client, tokens: Any, services: Services
) -> None:
    bomb = io.BytesIO()
    Image.new("RGBA", (7000, 7000), "white").save(bomb, "PNG", optimize=True)
    assert len(bomb.getvalue()) < 300_000  # small on the wire, ~200 MB per copy once decoded

    answer = upload(client, tokens, bomb.getvalue())
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/too-many-pixels"
    assert problem["errors"][0]["field"] == "file"
    assert "7000×7000" in problem["detail"] and str(BUDGET) in problem["detail"]
    assert kept(services) == (0, 0)


def test_a_camera_jpeg_above_the_budget_is_kept_at_a_fraction_of_its_size(
    client: Client, tokens: Any
) -> None:
    """2000×1500 (3 MP) over a 1 MP budget: decoded at 1/2, kept as 1000×750."""
    answer = upload(client, tokens, image("JPEG", (2000, 1500)))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (1000, 750)


@pytest.mark.parametrize(("fmt", "size"), [("PNG", (1000, 1000)), ("JPEG", (1000, 1000))])
def test_a_photo_within_the_budget_is_kept_whole(
    client: Client, tokens: Any, fmt: str, size: tuple[int, int]
) -> None:
    answer = upload(client, tokens, image(fmt, size))
    assert answer.status_code == 201, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == size


def test_a_png_just_over_the_budget_is_refused(client: Client, tokens: Any) -> None:
    answer = upload(client, tokens, image("PNG", (1001, 1000)))
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "/problems/too-many-pixels"


def test_while_every_decoder_is_busy_an_upload_is_503_and_waits_no_longer_than_configured(
    client: Client, tokens: Any, services: Services
) -> None:
    """One decoder, no wait configured: an upload arriving while it is busy is answered 503
    with Retry-After rather than held; once it is free, the same upload is kept."""
    store: AttachmentStore = client.app.state.attachment_store  # type: ignore[attr-defined]
    data = image("PNG", (64, 64))
    busy_with, started = threading.Event(), threading.Event()

    def another_decode() -> None:
        started.set()
        busy_with.wait(30)

    other = threading.Thread(target=store.decoders.run, args=(another_decode,))
    other.start()
    try:
        assert started.wait(30), "the other decode never started"
        busy = upload(client, tokens, data)
    finally:
        busy_with.set()
        other.join(timeout=30)
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.json()["type"] == "/problems/decoders-busy"
    assert int(busy.headers["Retry-After"]) >= 1
    assert kept(services) == (0, 0)
    assert upload(client, tokens, data).status_code == 201
