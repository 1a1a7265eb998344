"""随手拍: photos from the field, made safe to keep.

The type is sniffed from the bytes, never taken from the header or the file name. The pixels are
decoded and encoded afresh with the orientation applied, so nothing else survives: no EXIF, no
GPS, no camera make or model, no XMP, no embedded thumbnail — a photo must not tell where its
reporter lives. What is kept is content-addressed (sha256 of the stored bytes): the same photo
uploaded twice is stored once, under one id. Who may read one is the application's business
(``HuyingApplication.attachment_for``); this module keeps the bytes and the index.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID, uuid5

from PIL import Image, ImageCms, ImageOps, JpegImagePlugin
from sqlalchemy import Engine, Insert, insert, select
from sqlalchemy.exc import IntegrityError

from huying.clock import Clock
from huying.db import attachment_refs, attachment_uploads, attachments
from huying.domain.errors import CallNotFound, DomainError, InvalidCommand
from huying.domain.principal import Principal

_ID_NAMESPACE = UUID("0b6f3f4e-2d0c-4c8e-8a57-5e3c1a9d2f60")
MAX_PIXELS = 50_000_000  # a 10 MiB file can unpack into gigabytes; phones stay well under this
THUMB_EDGE = 320
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})


class AttachmentRefused(DomainError):
    """An upload that is not kept; each kind says its HTTP status."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Upload refused"


class UnsupportedMedia(AttachmentRefused):
    """Not a JPEG, PNG, WebP or HEIC photo that decodes (415)."""

    kind = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class AttachmentTooLarge(AttachmentRefused):
    """More bytes than one attachment may have (413)."""

    kind = "payload-too-large"
    status = 413
    title = "Payload too large"


class AttachmentNotFound(CallNotFound):
    """No such attachment, or none you may see: existence does not leak (404)."""


class Variant(StrEnum):
    ORIGINAL = "original"
    THUMB = "thumb"  # JPEG, at most THUMB_EDGE pixels a side: for lists


@dataclass(frozen=True)
class Kind:
    content_type: str
    pil_format: str


JPEG = Kind("image/jpeg", "JPEG")
PNG = Kind("image/png", "PNG")
WEBP = Kind("image/webp", "WEBP")
HEIC = Kind("image/heic", "HEIF")


@dataclass(frozen=True)
class Attachment:
    id: str
    sha256: str
    content_type: str
    size: int
    width: int
    height: int


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


def clean(data: bytes, kind: Kind) -> Cleaned:
    """Decode, apply the orientation, keep only the pixels (in sRGB), encode again."""
    source = _decode(data, kind)
    pixels = _pixels_only(_upright(source), kind)
    out = io.BytesIO()
    pixels.save(out, kind.pil_format, **_encoding(source, kind, data))
    return Cleaned(out.getvalue(), _thumbnail(pixels), pixels.width, pixels.height)


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


def _decode(data: bytes, kind: Kind) -> Image.Image:
    try:
        source = Image.open(io.BytesIO(data), formats=[kind.pil_format])
        if source.width * source.height > MAX_PIXELS:
            raise InvalidCommand("file", f"{source.width}×{source.height} pixels is more than {MAX_PIXELS}")
        source.load()
    except Image.DecompressionBombError as e:
        raise InvalidCommand("file", str(e)) from None
    except _UNREADABLE as e:
        raise UnsupportedMedia(f"not a readable {kind.content_type} image ({type(e).__name__})") from None
    return source


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's orientation tag says, so the tag can go with the rest."""
    try:
        return ImageOps.exif_transpose(image)
    except _UNREADABLE:
        return image  # an unreadable tag: keep the photo as shot


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
    return Image.frombytes(image.mode, image.size, image.tobytes())


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
    small = pixels.copy()
    small.thumbnail((THUMB_EDGE, THUMB_EDGE))
    if small.mode not in ("RGB", "L"):
        rgba = small.convert("RGBA")
        small = Image.new("RGB", rgba.size, "white")
        small.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


class AttachmentIndex:
    """The attachments' rows: what each is, who uploaded it, which calls name it."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, attachment_id: str) -> Attachment | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(attachments).where(attachments.c.id == attachment_id)).first()
        if row is None:
            return None
        return Attachment(row.id, row.sha256, row.content_type, row.size, row.width, row.height)

    def record(self, attachment: Attachment, uploader: Principal) -> None:
        now = self._clock.now()
        self._once(insert(attachments).values(**attachment.__dict__, created_at=now))
        self._once(
            insert(attachment_uploads).values(
                attachment_id=attachment.id, role=uploader.role.value, unit=uploader.unit, uploaded_at=now
            )
        )

    def uploaded_by(self, attachment_id: str, principal: Principal) -> bool:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(attachment_uploads.c.attachment_id).where(
                    attachment_uploads.c.attachment_id == attachment_id,
                    attachment_uploads.c.role == principal.role.value,
                    attachment_uploads.c.unit == principal.unit,
                )
            ).first()
        return found is not None

    def refer(self, attachment_ids: list[str], call_id: UUID) -> None:
        """Notes that a call names these attachments (before its event is stored)."""
        for attachment_id in attachment_ids:
            self._once(insert(attachment_refs).values(attachment_id=attachment_id, call_id=str(call_id)))

    def calls_naming(self, attachment_id: str) -> list[UUID]:
        """Calls that may name the attachment: each must be confirmed against the call itself."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(attachment_refs.c.call_id).where(attachment_refs.c.attachment_id == attachment_id)
            ).scalars()
            return [UUID(call_id) for call_id in rows]

    def _once(self, statement: Insert) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(statement)
        except IntegrityError:
            pass  # there already: the same photo, uploader or reference seen before


class AttachmentStore:
    """Stores cleaned photos under ``directory``, named by the sha256 of what is stored."""

    def __init__(self, directory: Path, index: AttachmentIndex, max_bytes: int) -> None:
        self.directory = directory
        self.index = index
        self.max_bytes = max_bytes
        self.heic = heic_readable()

    def put(self, data: bytes, uploader: Principal) -> Attachment:
        """Sniff, clean, store once; the same cleaned bytes always get the same id."""
        if len(data) > self.max_bytes:
            raise AttachmentTooLarge(f"an attachment is at most {self.max_bytes} bytes; this is {len(data)}")
        kind = sniff(data)
        if kind is None or (kind is HEIC and not self.heic):
            accepted = "JPEG, PNG, WebP" + (" or HEIC" if self.heic else "")
            raise UnsupportedMedia(f"not a {accepted} image (judged by its bytes, not its name or header)")
        cleaned = clean(data, kind)
        sha = hashlib.sha256(cleaned.data).hexdigest()
        attachment = Attachment(
            id=str(uuid5(_ID_NAMESPACE, sha)),
            sha256=sha,
            content_type=kind.content_type,
            size=len(cleaned.data),
            width=cleaned.width,
            height=cleaned.height,
        )
        # Files first, then the row: a row never names a file that is not there.
        self._write(self.path(sha, Variant.ORIGINAL), cleaned.data)
        self._write(self.path(sha, Variant.THUMB), cleaned.thumb)
        self.index.record(attachment, uploader)
        return attachment

    def path(self, sha: str, variant: Variant) -> Path:
        name = f"{sha}.thumb.jpg" if variant is Variant.THUMB else sha
        return self.directory / sha[:2] / name

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return  # content-addressed: what is there is these very bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
