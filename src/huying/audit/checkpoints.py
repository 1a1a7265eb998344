"""审计检查点 — (position, link, time) of the 防篡改 chain, exported to be kept elsewhere.

A checkpoint file is JSON Lines, one ``{"position", "link", "at"}`` object a line (what
``huying audit checkpoints`` writes; its last line is the chained head when written), or the
JSON body of ``GET /api/v1/audit/checkpoints`` saved as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from huying.audit.tables import audit_checkpoints

_HEX64 = re.compile(r"[0-9a-f]{64}")


class BadCheckpoints(ValueError):
    """A checkpoint file or parameter that cannot be read."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    link: str
    at: datetime | None = None
    source: str = "stored"  # "stored" (the checkpoint table), a file name, or "given"

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "link": self.link, "at": self.at.isoformat() if self.at else None}


def checkpoint(raw: Any, source: str) -> Checkpoint:
    """One checkpoint from its JSON object (422-style message on nonsense)."""
    if not isinstance(raw, dict):
        raise BadCheckpoints(f"{source}: a checkpoint is an object with position and link")
    position, link, at = raw.get("position"), raw.get("link"), raw.get("at")
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise BadCheckpoints(f"{source}: position must be a positive integer, not {position!r}")
    if not isinstance(link, str) or not _HEX64.fullmatch(link):
        raise BadCheckpoints(f"{source}: link must be 64 lowercase hex digits")
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        raise BadCheckpoints(f"{source}: at {at!r} is not an RFC 3339 time") from None
    return Checkpoint(position, link, when, source)


def parse_given(raw: str) -> Checkpoint:
    """``POSITION:LINK`` (a query parameter) → a checkpoint."""
    position, sep, link = raw.partition(":")
    if not sep or not position.isdigit():
        raise BadCheckpoints(f"checkpoint {raw!r}: give POSITION:LINK")
    return checkpoint({"position": int(position), "link": link}, "given")


def load_file(path: Path) -> list[Checkpoint]:
    """Every checkpoint in a file, sorted by position."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadCheckpoints(f"{path}: {e.strerror}") from None
    found: list[Checkpoint] = []
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "data" in document:  # a saved API answer
        items = [*document["data"], *([document["head"]] if document.get("head") else [])]
        found = [checkpoint(item, path.name) for item in items]
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    found.append(checkpoint(json.loads(line), f"{path.name}:{n}"))
                except json.JSONDecodeError:
                    raise BadCheckpoints(f"{path.name}:{n}: not JSON") from None
    return sorted(found, key=lambda c: c.position)


def stored(engine: Engine, after: int = 0, limit: int | None = None) -> list[Checkpoint]:
    """Checkpoints in the checkpoint table, by position."""
    query = (
        select(audit_checkpoints)
        .where(audit_checkpoints.c.position > after)
        .order_by(audit_checkpoints.c.position)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [Checkpoint(r.position, r.link, r.at) for r in conn.execute(query)]


def iter_stored(engine: Engine, batch: int = 1000) -> Iterator[Checkpoint]:
    """Every stored checkpoint, a page at a time."""
    after = 0
    while page := stored(engine, after, batch):
        yield from page
        after = page[-1].position
