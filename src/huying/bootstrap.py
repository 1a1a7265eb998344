"""Builds huying's parts from Settings: used by the HTTP app factory and by the CLI alike.
Nothing connects to a database at import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from sqlalchemy import Engine

from huying.application import HuyingApplication
from huying.audit.chain import ChainKeeper
from huying.clock import Clock, FakeClock, SystemClock
from huying.db import make_engine
from huying.domain.worktime import CalendarFileError, WorkCalendar, official_rules, rules_from_file
from huying.projections.runner import Projector
from huying.reference import load_catalog, load_org
from huying.services.contacts import ContactBook
from huying.services.keyring import KeyRing
from huying.services.record_keys import RecordKeys, key_store
from huying.services.tokens import TokenStore
from huying.settings import Settings
from huying.watchdog import Watchdog
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
    app: HuyingApplication
    projector: Projector
    chain: ChainKeeper  # 防篡改: the hash chain over the log, kept beside the read models
    watchdog: Watchdog  # 超时自动上呼与督办
    subscriptions: Subscriptions  # webhook subscriptions (the API's side)
    webhooks: WebhookWorker  # their deliveries (the background side)

    def close(self) -> None:
        self.webhooks.stop()
        self.watchdog.stop()
        self.projector.stop()
        self.chain.stop()
        self.app.close()
        self.contacts.keys.engine.dispose()
        self.engine.dispose()


def make_clock(settings: Settings) -> Clock:
    if settings.fake_clock:
        return FakeClock(state_file=settings.data_dir / "fake-clock.txt")
    return SystemClock()


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


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    settings.ensure_safe()
    clock = clock or make_clock(settings)
    org = load_org()
    catalog = load_catalog(org)
    engine = make_engine(settings)
    keys = RecordKeys(key_store(settings, engine), KeyRing(settings.master_secrets()), clock)
    contacts = ContactBook(engine, keys, clock)
    contacts.check_keys()
    app = HuyingApplication(
        env=settings.eventsourcing_env(),
        org=org,
        catalog=catalog,
        clock=clock,
        contacts=contacts,
        reopen_window=timedelta(days=settings.reopen_window_days),
        calendar=make_calendar(settings),
    )
    projector = Projector(
        app, engine, batch_size=settings.projector_batch_size, poll_seconds=settings.poll_seconds
    )
    chain = ChainKeeper(
        app,
        engine,
        clock,
        batch_size=settings.audit_batch_size,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_seconds=settings.audit_checkpoint_seconds,
        poll_seconds=settings.poll_seconds,
    )
    watchdog = Watchdog(app, engine, clock, interval_seconds=settings.watchdog_seconds)
    subscriptions = Subscriptions(engine, SecretBox(settings.master_secrets()), clock, app.org)
    return Services(
        settings,
        clock,
        engine,
        TokenStore(engine, clock),
        contacts,
        app,
        projector,
        chain,
        watchdog,
        subscriptions,
        webhook_worker(app, subscriptions, settings),
    )


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
