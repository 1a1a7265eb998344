"""随手拍: photos from the field, kept content-addressed, and who may see them.

Each upload is made safe to keep first (``photos.py``: sniffed, decoded within a pixel budget,
stripped of everything but its pixels, encoded again). What is kept is content-addressed
(sha256 of the stored bytes): the same photo uploaded twice is stored once, under one id. Who
may read one is the application's business (``huying.service_layer.photos``); this module
keeps the bytes and the index.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from uuid import UUID, uuid5

from sqlalchemy import Engine, Insert, insert, select
from sqlalchemy.exc import IntegrityError

from huying.clock import Clock
from huying.db import attachment_refs, attachment_uploads, attachments
from huying.domain.errors import CallNotFound
from huying.domain.principal import Principal
from huying.services.photos import (
    HEIC,
    AttachmentRefused,
    Decoders,
    UnsupportedMedia,
    clean,
    heic_readable,
    sniff,
)

_ID_NAMESPACE = UUID("0b6f3f4e-2d0c-4c8e-8a57-5e3c1a9d2f60")


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
class Attachment:
    id: str
    sha256: str
    content_type: str
    size: int
    width: int
    height: int


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

    def __init__(
        self,
        directory: Path,
        index: AttachmentIndex,
        max_bytes: int,
        max_pixels: int,
        decoders: Decoders,
    ) -> None:
        self.directory = directory
        self.index = index
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.decoders = decoders
        self.heic = heic_readable()

    def put(self, data: bytes, uploader: Principal) -> Attachment:
        """Sniff, clean, store once; the same cleaned bytes always get the same id."""
        if len(data) > self.max_bytes:
            raise AttachmentTooLarge(f"an attachment is at most {self.max_bytes} bytes; this is {len(data)}")
        kind = sniff(data)
        if kind is None or (kind is HEIC and not self.heic):
            accepted = "JPEG, PNG, WebP" + (" or HEIC" if self.heic else "")
            raise UnsupportedMedia(f"not a {accepted} image (judged by its bytes, not its name or header)")
        cleaned = self.decoders.run(lambda: clean(data, kind, self.max_pixels))
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
