"""What a command carries besides its own arguments: who, when, and its idempotency identity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from huying.domain.principal import Principal
from huying.domain.states import OrderRole


@dataclass(frozen=True)
class Command:
    """Who asks, when (business time), and how the request is identified for idempotency."""

    principal: Principal
    at: datetime
    idempotency_key: str | None = None
    fingerprint: str | None = None
    expected_version: int | None = None

    @property
    def meta(self) -> dict[str, Any]:
        return {
            "actor": self.principal.as_dict(),
            "at": self.at,
            "idempotency_key": self.idempotency_key,
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class OrderSpec:
    """One work order to create on dispatch (派单)."""

    department_code: str
    role: OrderRole
    deadline: datetime
    instructions: str
    sign_due: datetime | None = None
