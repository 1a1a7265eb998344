"""The obvious FastAPI + SQLAlchemy CRUD insert: an ORM session per request, one row per call,
stored where ``BENCH_DB_URL`` says (no tuning: what a first version looks like)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import DateTime, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bench.baselines.app import serving
from huying.api.schemas.requests import CallCreate


class Base(DeclarativeBase):
    pass


class CallRow(Base):
    __tablename__ = "bench_crud_calls"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(32))
    grid_code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(5000))
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


engine = create_engine(os.environ["BENCH_DB_URL"])
Base.metadata.create_all(engine)


def inserted(body: CallCreate) -> str:
    row = CallRow(
        id=str(uuid4()),
        item_code=body.item_code,
        grid_code=body.grid_code,
        title=body.title,
        description=body.description,
        channel=body.channel.value,
        created_at=datetime.now(UTC),
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return row.id


app = serving(inserted)
