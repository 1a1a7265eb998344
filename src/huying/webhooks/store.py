"""Webhook subscriptions: who subscribed what, where each stands in the log, how its deliveries went.

A subscription belongs to a unit acting in a role (its principal): its deliveries are what that
principal may see and what concerns its unit (``kinds.wanted``). A unit manages its own; an admin
any. Its position in the log is a ``projection_tracking`` row (``webhook:<id>``), moved only after
a receiver answered 2xx — so nothing is missed across crashes, and a step is delivered again if
huying stopped before recording the answer (at least once; receivers keep ``webhook-id``s).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from huying.clock import Clock
from huying.domain.errors import CallNotFound, IdempotencyKeyReused, InvalidCommand, NotPermitted
from huying.domain.org import Org, UnitKind
from huying.domain.principal import Principal, Role
from huying.projections import tracking
from huying.projections.tables import projection_tracking
from huying.services.keyring import KeyUnavailable, MasterKey, seal, unseal
from huying.webhooks.kinds import chosen_kinds
from huying.webhooks.signing import new_secret
from huying.webhooks.tables import webhook_deliveries, webhook_subscriptions

_NAMESPACE = UUID("6f1d2c5e-8b7a-4e39-9d0c-3a5b7e2f1c84")
ACTIVE, PAUSED = "active", "paused"
_ROLE_OF_KIND = {
    UnitKind.GRID: Role.GRID_WORKER,
    UnitKind.COMMUNITY: Role.COMMUNITY,
    UnitKind.STREET: Role.STREET,
    UnitKind.DEPARTMENT: Role.DEPARTMENT,
    UnitKind.DISTRICT: Role.ADMIN,
}


# Read by the sender whenever it is woken, which is every commit of a busy deployment: built once.
_ACTIVE = select(webhook_subscriptions).where(webhook_subscriptions.c.status == ACTIVE)


class WebhookNotFound(CallNotFound):
    """No such subscription, or not one of yours (404, as if there were none)."""


def tracking_name(subscription_id: str) -> str:
    return f"webhook:{subscription_id}"


@dataclass(frozen=True)
class Subscription:
    id: str
    role: Role
    unit: str
    url: str
    kinds: tuple[str, ...]
    description: str
    status: str
    paused_reason: str | None
    failures: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    position: int  # the last log position delivered (or passed over as not wanted)

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.unit)


@dataclass(frozen=True)
class Wanted:
    """What a subscription asks for (a create, or the parts an update changes)."""

    url: str
    kinds: list[str]
    description: str = ""
    unit: str | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps(
            [self.url, sorted(self.kinds), self.description, self.unit], ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class SecretBox:
    """Signing secrets sealed at rest under a key derived from the master key (HUYING_SECRET_KEY);
    earlier master keys (HUYING_OLD_SECRET_KEYS) still open what they sealed."""

    def __init__(self, master_secrets: list[str]) -> None:
        masters = [MasterKey.from_secret(s) for s in master_secrets]
        self._keys = {m.id: _derive(m.wrapping_key) for m in masters}
        self._newest = masters[0].id if masters else None  # none: a read-only command's box

    def seal(self, subscription_id: str, secret: str) -> tuple[str, bytes]:
        if self._newest is None:
            raise KeyUnavailable("this process holds no master key: it seals no webhook secret")
        return self._newest, seal(
            self._keys[self._newest], secret.encode(), f"webhook secret|{subscription_id}"
        )

    def open(self, subscription_id: str, key_id: str, sealed: bytes) -> str:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyError(
                f"webhook {subscription_id}'s secret is sealed under master key {key_id}, not held"
            )
        try:
            return unseal(key, sealed, f"webhook secret|{subscription_id}").decode()
        except InvalidTag:
            raise KeyError(f"webhook {subscription_id}'s secret does not open under {key_id}") from None


def _derive(wrapping_key: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"huying webhook signing secrets"
    ).derive(wrapping_key)


class Subscriptions:
    def __init__(self, engine: Engine, box: SecretBox, clock: Clock, org: Org) -> None:
        self.engine = engine
        self.box = box
        self.clock = clock
        self.org = org

    # --- the API's side ------------------------------------------------------------------------

    def create(
        self, requester: Principal, wanted: Wanted, secret: str | None, key: str | None, head: int
    ) -> tuple[Subscription, str, bool]:
        """(the subscription, its secret — the one given, or a new one —, whether this answered a
        retry). Starts at ``head``: it hears of steps taken after it was made (a replay goes back)."""
        owner = self._owner(requester, wanted.unit)
        kinds = chosen_kinds(wanted.kinds, owner.role)
        sub_id = str(
            uuid5(_NAMESPACE, f"{requester.role}|{requester.unit}|webhooks|{key}") if key else uuid4()
        )
        earlier = self._earlier(requester, sub_id, key, wanted, secret)
        if earlier is not None:
            return earlier
        now = self.clock.now()
        secret = secret or new_secret()
        key_id, sealed = self.box.seal(sub_id, secret)
        row = {
            "id": sub_id,
            "role": owner.role.value,
            "unit": owner.unit,
            "url": wanted.url,
            "kinds": ",".join(kinds),
            "description": wanted.description,
            "secret_enc": sealed,
            "secret_key_id": key_id,
            "status": ACTIVE,
            "failures": 0,
            "created_at": now,
            "updated_at": now,
            "created_role": requester.role.value,
            "created_unit": requester.unit,
            "idempotency_key": key,
            "fingerprint": wanted.fingerprint(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(webhook_subscriptions).values(**row))
                tracking.move(conn, tracking_name(sub_id), 0, head)
        except IntegrityError:  # a concurrent twin with the same key was stored first
            earlier = self._earlier(requester, sub_id, key, wanted, secret)
            if earlier is None:
                raise
            return earlier
        return self.get(requester, sub_id), secret, False

    def _earlier(
        self, requester: Principal, sub_id: str, key: str | None, wanted: Wanted, secret: str | None
    ) -> tuple[Subscription, str, bool] | None:
        if key is None:
            return None
        row = self._row(sub_id)
        if row is None:
            return None
        kept = self.box.open(sub_id, row.secret_key_id, row.secret_enc)
        if row.fingerprint != wanted.fingerprint() or (secret is not None and secret != kept):
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
        return self.get(requester, sub_id), kept, True

    def _owner(self, requester: Principal, unit: str | None) -> Principal:
        """Whose view the subscription gets: the requester's own, or — for an admin — any unit's."""
        if unit is None or unit == requester.unit:
            return requester
        if requester.role is not Role.ADMIN:
            raise NotPermitted(
                f"webhooks: only an admin subscribes for another unit; you act for {requester.unit}"
            )
        kind = self.org.kind_of(unit)
        if kind is None:
            raise InvalidCommand("unit", f"no unit {unit} in org {self.org.version}")
        return Principal(_ROLE_OF_KIND[kind], unit)

    def visible_to(self, principal: Principal) -> list[Subscription]:
        query = select(webhook_subscriptions).order_by(
            webhook_subscriptions.c.created_at, webhook_subscriptions.c.id
        )
        if principal.role is not Role.ADMIN:
            query = query.where(
                webhook_subscriptions.c.role == principal.role.value,
                webhook_subscriptions.c.unit == principal.unit,
            )
        with self.engine.connect() as conn:
            return [self._of(conn, r) for r in conn.execute(query)]

    def get(self, principal: Principal, sub_id: str) -> Subscription:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id)
            ).first()
            found = self._of(conn, row) if row is not None else None
        if found is None or not (principal.role is Role.ADMIN or found.principal == principal):
            raise WebhookNotFound(f"no webhook subscription {sub_id} of yours")
        return found

    def change(self, principal: Principal, sub_id: str, **values: Any) -> Subscription:
        """An update by its owner: url, kinds, description, or status (pause and resume)."""
        found = self.get(principal, sub_id)
        if "kinds" in values:
            values["kinds"] = ",".join(chosen_kinds(values["kinds"], found.role))
        if values.get("status") == ACTIVE:  # resumed: from where it stands, at once
            values.update(failures=0, next_attempt_at=None, paused_reason=None)
        elif values.get("status") == PAUSED:
            values.setdefault("paused_reason", f"paused by {principal.role.value} of {principal.unit}")
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_subscriptions)
                .where(webhook_subscriptions.c.id == sub_id)
                .values(**values, updated_at=self.clock.now())
            )
        return self.get(principal, sub_id)

    def replay(
        self, principal: Principal, sub_id: str, position: int, key: str | None, head: int
    ) -> Subscription:
        """Deliver again every wanted step after ``position`` (the subscription resumes too). A
        retried replay — the same Idempotency-Key and position — does not rewind twice."""
        found = self.get(principal, sub_id)
        if not 0 <= position <= head:
            raise InvalidCommand("from_position", f"give a log position from 0 to {head}, the log's head")
        fingerprint = hashlib.sha256(str(position).encode()).hexdigest()[:32]
        with self.engine.begin() as conn:
            row = conn.execute(
                select(webhook_subscriptions.c.replay_key, webhook_subscriptions.c.replay_fingerprint).where(
                    webhook_subscriptions.c.id == sub_id
                )
            ).one()
            if key is not None and row.replay_key == key:
                if row.replay_fingerprint != fingerprint:
                    raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body")
                return found
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == tracking_name(sub_id))
                .values(position=position)
            )
            conn.execute(
                update(webhook_subscriptions)
                .where(webhook_subscriptions.c.id == sub_id)
                .values(
                    status=ACTIVE,
                    failures=0,
                    next_attempt_at=None,
                    paused_reason=None,
                    replay_key=key,
                    replay_fingerprint=fingerprint,
                    updated_at=self.clock.now(),
                )
            )
        return self.get(principal, sub_id)

    def remove(self, principal: Principal, sub_id: str) -> None:
        self.get(principal, sub_id)
        with self.engine.begin() as conn:
            conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id))
            conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == sub_id))
            conn.execute(
                delete(projection_tracking).where(projection_tracking.c.name == tracking_name(sub_id))
            )

    def deliveries(self, principal: Principal, sub_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        self.get(principal, sub_id)
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.subscription_id == sub_id, webhook_deliveries.c.id > after)
            .order_by(webhook_deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # --- the sender's side -----------------------------------------------------------------------

    def active(self) -> list[Subscription]:
        with self.engine.connect() as conn:
            return [self._of(conn, r) for r in conn.execute(_ACTIVE)]

    def current(self, sub_id: str) -> tuple[Subscription, str] | None:
        """The subscription as it stands and its secret; None once deleted."""
        row = self._row(sub_id)
        if row is None:
            return None
        with self.engine.connect() as conn:
            return self._of(conn, row), self.box.open(sub_id, row.secret_key_id, row.secret_enc)

    def _row(self, sub_id: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(
                select(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id)
            ).first()

    def delivered(self, sub_id: str, start: int, end: int) -> bool:
        """Moves the subscription from ``start`` to ``end`` and clears its failures; False if its
        position moved meanwhile (a replay): the sender then reads again from where it is."""
        with self.engine.begin() as conn:
            if not tracking.move(conn, tracking_name(sub_id), start, end):
                return False
            conn.execute(
                update(webhook_subscriptions)
                .where(webhook_subscriptions.c.id == sub_id)
                .values(failures=0, next_attempt_at=None)
            )
        return True

    def failed(self, sub_id: str, failures: int, next_attempt_at: datetime, pause: str | None) -> None:
        values: dict[str, Any] = {"failures": failures, "next_attempt_at": next_attempt_at}
        if pause is not None:
            values.update(status=PAUSED, paused_reason=pause[:300], updated_at=self.clock.now())
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_subscriptions).where(webhook_subscriptions.c.id == sub_id).values(**values)
            )

    def log(self, **attempt: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(webhook_deliveries).values(**attempt))

    def _of(self, conn: Connection, row: Any) -> Subscription:
        return Subscription(
            id=row.id,
            role=Role(row.role),
            unit=row.unit,
            url=row.url,
            kinds=tuple(k for k in row.kinds.split(",") if k),
            description=row.description,
            status=row.status,
            paused_reason=row.paused_reason,
            failures=row.failures,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            position=tracking.tracked(conn, tracking_name(row.id)),
        )
