"""Steps sent as the HTTP API would send them: a request body, its fingerprint, and an
Idempotency-Key as clients send one (always on a raise, often on other actions), turned into
the application command the route calls — so a synthetic event is a real client's event."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from huying.api.deps import fingerprint
from huying.api.routers.calls import draft_of
from huying.api.schemas import requests as r
from huying.bootstrap import Services
from huying.domain.catalog import Item, Priority
from huying.domain.principal import Principal, Role
from huying.domain.states import Channel, Urgency
from huying.service_layer.calls import DispatchPlan, Outcome
from huying.service_layer.command_path import Submission
from huying.synthetic.district import District
from huying.synthetic.steps import Intent

KEYED = 0.5  # share of actions (other than raises) sent with an Idempotency-Key
_ROADS = (
    "龙津西路",
    "多宝路",
    "宝华路",
    "上下九路",
    "康王中路",
    "荔湾路",
    "芳村大道",
    "花地大道",
    "中山八路",
    "恩宁路",
)


def submission(rng: random.Random, body: BaseModel, keyed: bool) -> Submission:
    key = str(UUID(int=rng.getrandbits(128), version=4)) if keyed else None
    return Submission(key=key, fingerprint=_fingerprint(body))


# Most steps send one of a few bodies of fixed text ("现场处置完毕，问题已解决"): their fingerprints
# (a JSON dump and a digest each, a tenth of the writing) are worked out once. Only bodies of
# plain values are looked up: equal plain values of the same types dump alike (equal datetimes
# in two time zones would not).
_PLAIN = (str, bool, int, type(None))
_KNOWN: dict[tuple[object, ...], str] = {}
_KNOWN_AT_MOST = 1024


def _fingerprint(body: BaseModel) -> str:
    values = tuple(body.__dict__.values())
    types = tuple(type(v) for v in values)
    if not all(t in _PLAIN for t in types):
        return fingerprint(body)
    key = (type(body), frozenset(body.model_fields_set), types, values)
    if (known := _KNOWN.get(key)) is None:
        if len(_KNOWN) >= _KNOWN_AT_MOST:
            _KNOWN.clear()
        known = _KNOWN[key] = fingerprint(body)
    return known


def raise_body(
    rng: random.Random, district: District, item: Item, grid: str, now: datetime
) -> tuple[Principal, r.CallCreate]:
    """群众有呼: who raises it, by which channel, with what the client sends."""
    community = district.org.community_of(grid)
    who, channel = rng.choices(
        [
            (Principal(Role.GRID_WORKER, grid), Channel.GRID_WORKER),
            (Principal(Role.GRID_WORKER, grid), Channel.PHOTO),
            (Principal(Role.COMMUNITY, community), Channel.WALK_IN),
            (Principal(Role.COMMUNITY, community), Channel.COUNCIL),
            (Principal(Role.SUPERVISOR, district.org.district.code), Channel.HOTLINE),
        ],
        [30, 15, 15, 5, 35],
    )[0]
    lat, lon = district.spot[grid]
    located = channel in (Channel.GRID_WORKER, Channel.PHOTO) or rng.random() < 0.3
    location: dict[str, Any] = {"address": f"{rng.choice(_ROADS)}{rng.randint(1, 400)}号"}
    if located:
        location.update(lat=round(lat + rng.gauss(0, 0.002), 6), lon=round(lon + rng.gauss(0, 0.002), 6))
    told = channel in (Channel.HOTLINE, Channel.WALK_IN)
    reporter = {
        "name": rng.choice("张王李赵陈刘黄周吴林") + rng.choice(["先生", "女士"]),
        "phone": f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
    }
    body = r.CallCreate(
        item_code=item.code,
        grid_code=grid,
        title=f"{item.name}（{location['address']}）",
        description=f"群众反映：{item.trigger[:60]}。请尽快核实处理。",
        channel=channel,
        urgency=_urgency(rng, item),
        occurred_at=now - timedelta(minutes=rng.randint(5, 600))
        if channel is Channel.PHOTO and rng.random() < 0.4
        else None,
        location=r.Location(**location),
        reporter=r.ReporterIn(**reporter) if told and rng.random() < 0.8 else None,
    )
    return who, body


def _urgency(rng: random.Random, item: Item) -> Urgency:
    weights = {Priority.URGENT: [10, 40, 50], Priority.HIGH: [55, 40, 5], Priority.NORMAL: [90, 9, 1]}
    return rng.choices(list(Urgency), weights[item.priority])[0]


def send_raise(s: Services, who: Principal, body: r.CallCreate, sub: Submission) -> Outcome:
    """What ``POST /api/v1/calls`` does with its body."""
    return s.calls.raise_call(who, draft_of(body), sub)


# What each action's route does with its body; ``target`` is the call id, or the work order's id.
_ROUTES: dict[str, Callable[[Services, Principal, Any, Submission, Any], Outcome]] = {
    "acknowledge": lambda s, p, t, sub, b: s.calls.acknowledge(p, t, sub, b.note),
    "escalate": lambda s, p, t, sub, b: s.calls.escalate(p, t, sub, b.reason),
    "dispatch": lambda s, p, t, sub, b: s.calls.dispatch(
        p, t, sub, DispatchPlan(b.lead_department, b.assisting_departments, b.deadline, b.instructions)
    ),
    "resolve": lambda s, p, t, sub, b: s.calls.resolve(p, t, sub, b.summary),
    "evaluate": lambda s, p, t, sub, b: s.calls.evaluate(
        p, t, sub, contacted=b.contacted, solved=b.solved, satisfaction=b.satisfaction, comment=b.comment
    ),
    "reopen": lambda s, p, t, sub, b: s.calls.reopen(p, t, sub, b.reason),
    "close": lambda s, p, t, sub, b: s.calls.close_call(p, t, sub, b.note),
    "withdraw": lambda s, p, t, sub, b: s.calls.withdraw(p, t, sub, b.reason),
    "supervise": lambda s, p, t, sub, b: s.calls.supervise(p, t, sub, b.reason, b.unit),
    "merge": lambda s, p, t, sub, b: s.calls.merge(p, t, sub, b.into, b.reason),
    "sign": lambda s, p, t, sub, b: s.orders.sign(p, t, sub, b.note),
    "return": lambda s, p, t, sub, b: s.orders.return_order(p, t, sub, b.reason),
    "request_extension": lambda s, p, t, sub, b: s.orders.request_extension(p, t, sub, b.until, b.reason),
    "grant_extension": lambda s, p, t, sub, b: s.orders.grant_extension(p, t, sub, b.note),
    "deny_extension": lambda s, p, t, sub, b: s.orders.deny_extension(p, t, sub, b.reason),
    "progress": lambda s, p, t, sub, b: s.orders.note_progress(p, t, sub, b.note, b.attachments),
    "complete": lambda s, p, t, sub, b: s.orders.complete_order(p, t, sub, b.result, b.attachments),
}


def send(s: Services, call_id: UUID, intent: Intent, sub: Submission) -> Outcome:
    """What the route of ``intent.action`` does with its body."""
    target = intent.order_id if intent.order_id is not None else call_id
    return _ROUTES[intent.action](s, intent.principal, target, sub, intent.body)
