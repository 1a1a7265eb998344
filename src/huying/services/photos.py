"""随手拍: a photo made safe to keep, in bounded memory.

The type is sniffed from the bytes, never taken from the header or the file name. The pixels are
decoded and encoded afresh with the orientation applied, so nothing else survives: no EXIF, no
GPS, no camera make or model, no XMP, no embedded thumbnail — a photo must not tell where its
reporter lives.

Decoding is what costs memory: a 0.19 MB PNG of 7000×7000 unpacks into 150–200 MB per copy of
its pixels. So each photo has a pixel budget, judged from its header before a pixel is decoded (a
JPEG above it is decoded at 1/2, 1/4 or 1/8 of its size, which its format allows at no cost;
any other format is refused); a decode holds two copies of its pixels at most; and only a few
photos are decoded at once, each on a decoder thread of its own (``Decoders``).
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from PIL import Image, ImageCms, ImageOps, JpegImagePlugin

from huying.domain.errors import DomainError, InvalidCommand

T = TypeVar("T")
THUMB_EDGE = 320
_JPEG_SCALES = (1, 2, 4, 8)  # what a JPEG decoder can reduce to while decoding (DCT scaling)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


class AttachmentRefused(DomainError):
    """An upload that is not kept; each kind says its HTTP status."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Upload refused"
    retry_after: ClassVar[int | None] = None


class UnsupportedMedia(AttachmentRefused):
    """Not a JPEG, PNG, WebP or HEIC photo that decodes (415)."""

    kind = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class DecodersBusy(AttachmentRefused):
    """Every photo decoder stayed busy for the whole wait (503, retry after a moment)."""

    kind = "decoders-busy"
    status = 503
    title = "Service busy"
    retry_after = 2


class TooManyPixels(InvalidCommand):
    """A photo of more pixels than one upload may unpack into (422, naming the file)."""

    kind = "too-many-pixels"

    def __init__(self, width: int, height: int, budget: int) -> None:
        super().__init__(
            "file",
            f"{width}×{height} is {width * height} pixels; a photo may have at most {budget} "
            "(send it at a lower resolution)",
        )


@dataclass(frozen=True)
class Kind:
    content_type: str
    pil_format: str


JPEG = Kind("image/jpeg", "JPEG")
PNG = Kind("image/png", "PNG")
WEBP = Kind("image/webp", "WEBP")
HEIC = Kind("image/heic", "HEIF")


def heic_readable() -> bool:
    """HEIC (what iPhones shoot) only where pillow-heif is installed and loads."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def sniff(data: bytes) -> Kind | None:
    """The type the bytes themselves declare, by their magic numbers."""
    if data[:3] == b"\xff\xd8\xff":
        return JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp":
        box = int.from_bytes(data[:4], "big")
        brands = {data[8:12], *(data[i : i + 4] for i in range(16, min(box, 64), 4))}
        if brands & _HEIF_BRANDS:
            return HEIC
    return None


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    thumb: bytes
    width: int
    height: int


def clean(data: bytes, kind: Kind, max_pixels: int) -> Cleaned:
    """Decode (within the pixel budget), apply the orientation, keep only the pixels (in sRGB),
    encode again."""
    source = _decode(data, kind, max_pixels)
    encoding = _encoding(source, kind, data)
    pixels = _pixels_only(_upright(source), kind)
    del source  # the decoded copy goes before the encoders make theirs
    out = io.BytesIO()
    pixels.save(out, kind.pil_format, **encoding)
    return Cleaned(out.getvalue(), _thumbnail(pixels), pixels.width, pixels.height)


class Decoders:
    """At most ``n`` photos decoded at once, whatever is uploaded, each on one of ``n`` threads
    of its own: a decode holds a few hundred MB while it runs, and memory a thread's allocator
    arena once held tends to stay with the process, so only these few threads ever hold it. An
    upload waits at most ``wait`` seconds for a decoder, then 503."""

    def __init__(self, n: int, wait: float) -> None:
        self._free = threading.BoundedSemaphore(n)
        self._threads = ThreadPoolExecutor(max_workers=n, thread_name_prefix="huying-photo")
        self.n = n
        self.wait = wait

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a decoder thread; DecodersBusy if none frees up within ``wait``."""
        if not self._free.acquire(timeout=self.wait):
            raise DecodersBusy(f"all {self.n} photo decoders are busy; retry in a moment")

        def decoding() -> T:
            try:
                return work()
            finally:
                self._free.release()

        return self._threads.submit(decoding).result()

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


# Hostile bytes fail a decoder in many ways; every one of them means "not an image we take".
_UNREADABLE = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    LookupError,
    ArithmeticError,
    RuntimeError,
    struct.error,
)


def _decode(data: bytes, kind: Kind, max_pixels: int) -> Image.Image:
    try:
        source = Image.open(io.BytesIO(data), formats=[kind.pil_format])
        _within_budget(source, max_pixels)
        source.load()
    except Image.DecompressionBombError as e:
        raise InvalidCommand("file", str(e)) from None
    except _UNREADABLE as e:
        raise UnsupportedMedia(f"not a readable {kind.content_type} image ({type(e).__name__})") from None
    return source


def _within_budget(image: Image.Image, max_pixels: int) -> None:
    """Judged from the header, before decoding: a JPEG over the budget is decoded reduced by
    the least of 1/2, 1/4, 1/8 that brings it within; anything else over it is refused."""
    width, height = image.size
    if width * height <= max_pixels:
        return
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        for scale in _JPEG_SCALES[1:]:
            size = (math.ceil(width / scale), math.ceil(height / scale))
            if size[0] * size[1] <= max_pixels:
                image.draft(image.mode, size)
                return
    raise TooManyPixels(width, height, max_pixels)


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's orientation tag says, so the tag can go with the rest (in place:
    no second copy of the pixels)."""
    with contextlib.suppress(*_UNREADABLE):  # an unreadable tag: keep the photo as shot
        ImageOps.exif_transpose(image, in_place=True)
    return image


def _pixels_only(image: Image.Image, kind: Kind) -> Image.Image:
    """A new image holding the pixels and nothing else: no info, no EXIF, no profile."""
    alpha = "transparency" in image.info or image.mode in ("RGBA", "LA", "PA", "La", "RGBa")
    if kind is JPEG:
        wanted = {"L", "RGB"}
    elif kind is PNG:
        wanted = {"1", "L", "LA", "I", "I;16", "RGB", "RGBA"}
    else:
        wanted = {"RGB", "RGBA"}
    if image.mode in ("P", "PA") or "transparency" in image.info or image.mode not in wanted:
        image = image.convert("RGBA" if alpha and kind is not JPEG else "RGB")
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA"):
        image = _to_srgb(image, icc)
    fresh = Image.new(image.mode, image.size)  # pixels pasted in: one copy, no bytes between
    fresh.paste(image)
    return fresh


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Colours as the embedded profile meant them, in sRGB, so the profile can go too."""
    try:
        converted = ImageCms.profileToProfile(
            image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB")
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unreadable profile: keep the pixels as they are
    return converted or image


def _encoding(source: Image.Image, kind: Kind, data: bytes) -> dict[str, Any]:
    """Encoder settings near the source's own, so a re-encode loses little."""
    if kind is JPEG:
        if isinstance(source, JpegImagePlugin.JpegImageFile) and source.mode in ("L", "RGB"):
            sampling = JpegImagePlugin.get_sampling(source)
            keep: dict[str, Any] = {"qtables": source.quantization}
            return keep if sampling == -1 else {**keep, "subsampling": sampling}
        return {"quality": 90}
    if kind is WEBP:
        return {"lossless": True} if _webp_lossless(data) else {"quality": 90}
    if kind is HEIC:
        return {"quality": 90}
    return {}


def _webp_lossless(data: bytes) -> bool:
    """Walks the RIFF chunks to the image data: VP8L is lossless, VP8 lossy."""
    at = 12
    while at + 8 <= len(data):
        fourcc, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        if fourcc in (b"VP8 ", b"VP8L"):
            return fourcc == b"VP8L"
        at += 8 + size + (size & 1)
    return False


def _thumbnail(pixels: Image.Image) -> bytes:
    # Reduced by a whole factor straight from the pixels (box averages: no full-size copy, which
    # thumbnail() would make, twice for RGBA), then resampled to at most THUMB_EDGE a side.
    factor = max(1, max(pixels.size) // (THUMB_EDGE * 2))
    small = pixels.reduce(factor) if factor > 1 else pixels.copy()
    small.thumbnail((THUMB_EDGE, THUMB_EDGE))
    if small.mode not in ("RGB", "L"):
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size, "white")
        small.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()
