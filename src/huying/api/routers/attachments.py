"""随手拍: upload a photo (EXIF and GPS stripped before it is kept), and read one back — only if
you uploaded it or can see a call that names it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Path, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from huying.api.deps import CurrentPrincipal, HuyingServices
from huying.api.problems import problem
from huying.api.routing import Router
from huying.api.schemas.calls import AttachmentPublic
from huying.domain.errors import NotPermitted
from huying.domain.principal import Role
from huying.services.attachments import AttachmentNotFound, AttachmentStore, Variant
from huying.services.photos import AttachmentRefused

router = Router(prefix="/api/v1/attachments", tags=["attachments"])

# Those who raise calls or write notes on them; auditors never write, admins take no call actions.
UPLOADERS = frozenset({Role.GRID_WORKER, Role.COMMUNITY, Role.STREET, Role.DEPARTMENT, Role.SUPERVISOR})
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _store(request: Request) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachment_store  # built by create_app
    return store


Store = Annotated[AttachmentStore, Depends(_store)]
AttachmentId = Annotated[str, Path(max_length=64)]


async def refused(_: Request, exc: Exception) -> JSONResponse:
    """413 / 415 for an upload that is not kept, 503 while the decoders stay busy (registered
    by create_app)."""
    assert isinstance(exc, AttachmentRefused)
    retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return problem(exc.status, exc.kind, exc.title, exc.detail, headers=retry)


@router.post(
    "",
    status_code=201,
    response_model=AttachmentPublic,
    responses={413: _PROBLEM, 415: _PROBLEM, 503: _PROBLEM},
)
def upload(
    file: Annotated[UploadFile, File(description="the photo: JPEG, PNG, WebP or HEIC")],
    p: CurrentPrincipal,
    store: Store,
    response: Response,
) -> AttachmentPublic:
    """随手拍: store a photo, judged by its bytes (not its name or declared type), with its
    EXIF, GPS and camera metadata stripped and its orientation applied. The same photo uploaded
    again gets the same id; reference the id in a call, progress note or completion."""
    if p.role not in UPLOADERS:
        raise NotPermitted(f"upload: attachments are evidence for calls; {p.role} does not write them")
    attachment = store.put(file.file.read(store.max_bytes + 1), p)
    response.headers["Location"] = f"/api/v1/attachments/{attachment.id}"
    return AttachmentPublic(**attachment.__dict__)


@router.get(
    "/{attachment_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {t: {} for t in ("image/jpeg", "image/png", "image/webp", "image/heic")}},
        404: _PROBLEM,
    },
)
def fetch(
    attachment_id: AttachmentId,
    p: CurrentPrincipal,
    s: HuyingServices,
    store: Store,
    variant: Variant = Variant.ORIGINAL,
) -> FileResponse:
    """The stored photo, or ``variant=thumb``: a JPEG at most 320 pixels a side, for lists. Only
    for whoever uploaded it or can see a call that names it; 404 for everyone else."""
    attachment = s.photos.attachment_for(p, attachment_id)
    path = store.path(attachment.sha256, variant)
    if not path.is_file():
        raise AttachmentNotFound(f"attachment {attachment_id}: its stored file is missing")
    thumb = variant is Variant.THUMB
    return FileResponse(
        path,
        media_type="image/jpeg" if thumb else attachment.content_type,
        headers={
            "ETag": f'"{attachment.sha256}{"-thumb" if thumb else ""}"',
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
