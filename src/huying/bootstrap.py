"""Builds huying's parts from Settings: used by the HTTP app factory and by the CLI alike.
Nothing connects to a database at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import time, timedelta
from functools import partial
from typing import Any

from eventsourcing.persistence import PersistenceError
from sqlalchemy import Engine, event

from huying.application import HuyingApplication
from huying.audit.seal import SEAL_KEY_REF, SealKeys, stored_seal_key
from huying.audit.vouch import Voucher
from huying.clock import Clock, FakeClock, SystemClock
from huying.db import make_engine
from huying.domain.worktime import CalendarFileError, WorkCalendar, official_rules, rules_from_file
from huying.groupcommit import grouped
from huying.locks import duty_lock
from huying.logtime import last_business_time
from huying.migrate import CREATE_TABLE, SchemaNotReady, require_schema, upgrade
from huying.projections.chain import ChainKeeper
from huying.projections.rebuild import REBUILD_LOCK
from huying.projections.recent import RecentRaises
from huying.projections.runner import Projector
from huying.queries.duplicates import DuplicateRule
from huying.queries.scores import Period
from huying.queries.settled_scores import settled_scores
from huying.reference import load_catalog, load_org
from huying.service_layer.calls import CallService, call_path
from huying.service_layer.catalog_edits import CatalogEditService, catalog_edits_path
from huying.service_layer.directives import DirectiveService, directive_path
from huying.service_layer.meetings import MeetingService, meeting_path
from huying.service_layer.photos import Photos
from huying.service_layer.ports import Contacts, PhotoIndex
from huying.service_layer.publications import (
    PublicationKind,
    PublicationService,
    Scored,
    Scorer,
    publication_path,
)
from huying.service_layer.work_orders import WorkOrderService
from huying.services.attachments import AttachmentIndex
from huying.services.contact_store import contact_store
from huying.services.contacts import ContactBook
from huying.services.keyring import KeyRing, KeyUnavailable, NoKeys
from huying.services.record_keys import RecordKeys, key_store
from huying.services.revocations import LocalNotices, SharedNotices
from huying.services.tokens import TokenStore
from huying.settings import Settings
from huying.watchdog import Progress, Watchdog
from huying.webhooks.sender import Backoff, Sender
from huying.webhooks.store import SecretBox, Subscriptions
from huying.webhooks.worker import WebhookWorker


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: Engine
    tokens: TokenStore
    contacts: ContactBook
    app: HuyingApplication  # the one event log
    calls: CallService  # the call's commands (呼 → 应)
    orders: WorkOrderService  # the department side of a call (部门必应)
    photos: Photos  # 随手拍: which photos a principal may use
    attachments: AttachmentIndex  # 随手拍: the photos' index (uploads write it too)
    projector: Projector
    recent: RecentRaises  # 重复提示 for new calls, without the read models
    chain: ChainKeeper  # 防篡改: the hash chain over the log, kept beside the read models
    watchdog: Watchdog  # 超时自动上呼与督办
    subscriptions: Subscriptions  # webhook subscriptions (the API's side)
    webhooks: WebhookWorker  # their deliveries (the background side)
    directives: DirectiveService  # 令行禁止: directives down the chain
    meetings: MeetingService  # 联席会议: joint meetings, agenda, minutes, decisions
    publications: PublicationService  # a published 考评: frozen, versioned unit scores
    catalog_edits: CatalogEditService  # the admin's edits of the 呼应事项清单

    def close(self) -> None:
        self.webhooks.stop()
        self.watchdog.stop()
        self.projector.stop()
        self.chain.stop()
        self.app.close()
        self.contacts.keys.settle()  # keys being made ahead: committed, or failed, first
        self.contacts.keys.engine.dispose()
        self.contacts.engine.dispose()
        self.tokens.close()
        self.engine.dispose()


def make_clock(settings: Settings) -> Clock:
    if settings.fake_clock:
        return FakeClock(state_file=settings.data_dir / "fake-clock.txt")
    return SystemClock()


def _application(
    settings: Settings, clock: Clock, contacts: ContactBook, read_only: bool, engine: Engine
) -> HuyingApplication:
    org = load_org()
    env = grouped(settings.eventsourcing_env())  # many requests' events in one commit
    return HuyingApplication(
        # Its tables are made by `huying migrate`, under its lock (``migrate._create_event_store``).
        # Made again at every start, workers starting at once raced on PostgreSQL: the library's
        # CREATE OR REPLACE FUNCTION from two sessions fails one ("tuple concurrently updated").
        env={**env, CREATE_TABLE: "n"},
        org=org,
        catalog=load_catalog(org),
        clock=clock,
        voucher=Voucher(_seal_keys(settings, contacts, clock, read_only), engine),  # 封印
        calendar=make_calendar(settings),
    )


def command_services(
    app: HuyingApplication,
    contacts: Contacts,
    photo_index: PhotoIndex,
    *,
    reopen_window: timedelta,
    max_capture_age: timedelta,
) -> tuple[CallService, WorkOrderService, Photos, DirectiveService, MeetingService]:
    """Each aggregate's application service over the one log, and what they reach outside it:
    wired here, for the server and the CLI alike (and for unit tests, with in-memory parts)."""
    path = call_path(app)
    photos = Photos(photo_index, path)
    calls = CallService(path, contacts, photos, reopen_window=reopen_window, max_capture_age=max_capture_age)
    directives = DirectiveService(directive_path(app), photos)
    photos.also_named_by(directives.path, lambda d: d.photos)  # a report's evidence, to who sees it
    meetings = MeetingService(meeting_path(app), calls, directives)
    return calls, WorkOrderService(path, photos), photos, directives, meetings


def _seal_keys(settings: Settings, contacts: ContactBook, clock: Clock, read_only: bool) -> SealKeys:
    """封印: the seal key is a record key wrapped by the master keys. A read-only process opens no
    contact, but unwraps this one key to check seals when the master key is there to be read;
    without it, or with the seal key gone from the store, it can vouch for nothing it reads."""
    if not read_only:
        return SealKeys([stored_seal_key(contacts.keys)])
    secrets = settings.existing_secrets()
    found = None
    if secrets:
        with suppress(KeyUnavailable):
            found = RecordKeys(contacts.keys.engine, KeyRing(secrets), clock).get(SEAL_KEY_REF)
    return SealKeys([found or os.urandom(32)])


def _refuse_writes(engine: Engine) -> None:
    """Every connection of a read-only process refuses to write, whatever code runs in it."""

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA query_only=ON")
        else:
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_conn.commit()  # a SET rolled back with its transaction would be undone
        cur.close()


def _contacts(settings: Settings, engine: Engine, clock: Clock, read_only: bool) -> ContactBook:
    """Reporters' contacts. A read-only process holds no master key: they stay sealed."""
    store = key_store(settings, engine)
    kept = contact_store(settings, engine)
    if read_only:
        for apart in {store, kept} - {engine}:
            _refuse_writes(apart)
        return ContactBook(kept, RecordKeys(store, NoKeys(), clock), clock)
    contacts = ContactBook(kept, RecordKeys(store, KeyRing(settings.master_secrets()), clock), clock)
    contacts.check_keys()
    return contacts


def _readable_application(
    settings: Settings, clock: Clock, contacts: ContactBook, read_only: bool, engine: Engine
) -> HuyingApplication:
    """The application, which reads the log's head as it starts: a store without its event
    table (never migrated, or dropped) is named, not a traceback."""
    try:
        return _application(settings, clock, contacts, read_only, engine)
    except PersistenceError as e:
        contacts.keys.engine.dispose()
        contacts.engine.dispose()
        engine.dispose()
        raise SchemaNotReady(f"the event store cannot be read ({e}): run `huying migrate` first") from e


def _not_before_the_log(clock: Clock, app: HuyingApplication) -> None:
    """A settable clock that lost its saved time starts where the log's business time has got
    to, not at a wall clock behind it (it never goes back before what is recorded)."""
    if isinstance(clock, FakeClock):
        floor = last_business_time(app)
        if floor is not None and clock.now() < floor:
            clock.set(floor)


def make_calendar(settings: Settings) -> WorkCalendar:
    """The official schedule, with the district's override file on top, and the working hours."""
    rules = official_rules()
    if settings.calendar_file is not None:
        rules = rules.merged(rules_from_file(settings.calendar_file))
    return WorkCalendar(rules=rules, hours=parse_hours(settings.working_hours))


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,14:00-17:30"`` → the working periods."""
    try:
        periods = tuple(
            (time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
            for a, b in (part.split("-") for part in text.split(","))
        )
    except ValueError:
        raise CalendarFileError(
            f"HUYING_WORKING_HOURS: expected like 08:30-12:00,14:00-17:30, got {text!r}"
        ) from None
    return periods


def build_services(settings: Settings, clock: Clock | None = None, *, read_only: bool = False) -> Services:
    """Every part, connected to the configured databases.

    ``read_only``: for commands that only look (audit verify and replay, checkpoints, export,
    token list). The schemas must already be there (``SchemaNotReady`` otherwise); nothing is
    created, migrated or written, and no secret key is needed: reporters' contacts stay shut."""
    if read_only:
        require_schema(settings)
    else:
        settings.ensure_safe()
    given = clock
    clock = clock or make_clock(settings)
    engine = make_engine(settings)
    if read_only:
        _refuse_writes(engine)
    contacts = _contacts(settings, engine, clock, read_only)
    app = _readable_application(settings, clock, contacts, read_only, engine)
    if not read_only and given is None:
        _not_before_the_log(clock, app)
    projector = Projector(
        app,
        engine,
        batch_size=settings.projector_batch_size,
        cache_size=settings.projector_cache_size,
        poll_seconds=settings.poll_seconds,
        rebuild_lock=partial(duty_lock, settings, REBUILD_LOCK),
    )
    chain = ChainKeeper(
        app,
        engine,
        SystemClock(),  # checkpoints carry wall-clock time, whatever the business clock says
        batch_size=settings.audit_batch_size,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        verify_seconds=settings.audit_verify_seconds,
        poll_seconds=settings.poll_seconds,
        keeps_verdicts=not read_only,  # `huying audit verify` writes nothing
    )
    attachments = AttachmentIndex(engine, clock)
    recent = RecentRaises(app, engine, DuplicateRule(settings.duplicate_radius_m, settings.duplicate_days))
    app.on_recorded(recent.recorded)  # its own saves, not read back from the log
    calls, orders, photos, directives, meetings = command_services(
        app,
        contacts,
        attachments,
        reopen_window=timedelta(days=settings.reopen_window_days),
        max_capture_age=timedelta(days=settings.max_capture_age_days),
    )
    watchdog = Watchdog(
        calls,
        engine,
        clock,
        directives=directives,
        interval_seconds=settings.watchdog_seconds,
        progress=Progress(lambda: app.recorder.max_notification_id() or 0, projector.position),
    )
    secrets = settings.existing_secrets() if read_only else settings.master_secrets()
    subscriptions = Subscriptions(engine, SecretBox(secrets), clock, app.org)
    return Services(
        settings,
        clock,
        engine,
        TokenStore(
            engine,
            clock,
            cache_seconds=settings.token_cache_seconds,
            revocations=LocalNotices() if read_only else SharedNotices(settings.data_dir),
        ),
        contacts,
        app,
        calls,
        orders,
        photos,
        attachments,
        projector,
        recent,
        chain,
        watchdog,
        subscriptions,
        webhook_worker(app, subscriptions, settings),
        directives=directives,
        meetings=meetings,
        publications=PublicationService(publication_path(app), scorer(settings, app, engine, clock)),
        catalog_edits=CatalogEditService(catalog_edits_path(app)),
    )


def scorer(settings: Settings, app: HuyingApplication, engine: Engine, clock: Clock) -> Scorer:
    """What a publication freezes: a period's unit scores or 考核 as the read side judges them
    now (as of the period's cutoff once it has passed), with the rules they were made by."""

    def scored(kind: PublicationKind, period: Period) -> Scored:
        least, now = settings.min_evaluated_for_rank, clock.now()
        with engine.connect() as conn:
            settles_at, figures = settled_scores(
                conn, app.org, kind.units, period, now, app.calendar, settings, assessed=kind.assessed
            )
        if kind.assessed:
            weights, deduction = list(settings.assessment_weights), settings.supervision_deduction
            return Scored(settles_at, weights, least, figures, deduction)
        return Scored(settles_at, list(settings.score_weights), least, figures)

    return scored


@contextmanager
def opened(settings: Settings, *, read_only: bool = False, migrate: bool = False) -> Iterator[Services]:
    """The services of one command, closed after it. The schemas must be there already
    (``SchemaNotReady``), unless ``migrate``: then they are created or upgraded first."""
    if migrate:
        upgrade(settings)
    elif not read_only:
        require_schema(settings)
    services = build_services(settings, read_only=read_only)
    try:
        yield services
    finally:
        services.close()


def webhook_worker(app: HuyingApplication, subscriptions: Subscriptions, settings: Settings) -> WebhookWorker:
    """Deliveries back off on the wall clock (receivers' outages are real time, even in a demo
    whose business clock stands still); tests give the sender a fake clock of their own."""
    backoff = Backoff(
        settings.webhook_retry_base_seconds,
        settings.webhook_retry_max_seconds,
        settings.webhook_pause_after_failures,
    )
    sender = Sender(
        app,
        subscriptions,
        SystemClock(),
        backoff,
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhooks_allow_private_urls,
    )
    return WebhookWorker(app, sender, settings.poll_seconds)
