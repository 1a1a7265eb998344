"""huying's application services on the library's in-memory event store (POPO), with in-memory
contacts and photo index: every command runs with no I/O, wired by ``bootstrap.command_services``
as the server wires them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from calls import T0
from sqlalchemy import create_engine

from huying.application import HuyingApplication
from huying.audit.seal import SealKeys
from huying.audit.vouch import Voucher
from huying.bootstrap import command_services
from huying.clock import FakeClock
from huying.domain.contact import Contact, Raiser
from huying.domain.principal import Principal
from huying.groupcommit import StoredBy
from huying.reference import load_catalog, load_org
from huying.service_layer.calls import CallService
from huying.service_layer.directives import DirectiveService
from huying.service_layer.meetings import MeetingService
from huying.service_layer.photos import Photos
from huying.service_layer.work_orders import WorkOrderService
from huying.services.attachments import Attachment


class MemoryContacts:
    """Reporters' contacts in a dict; erased ones are remembered as erased."""

    def __init__(self) -> None:
        self.kept: dict[str, Contact | None] = {}
        self.erased_by: dict[str, str | None] = {}

    def new_ref(self) -> str:
        return str(uuid4())

    def keeping(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> StoredBy:
        return StoredBy(lambda: self.keep(ref, contact, raiser))

    def keep(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> None:
        self.kept[ref] = contact

    def discard(self, ref: str) -> None:
        self.kept.pop(ref, None)

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        if ref is None or contact is None:
            return ref is None and contact is None
        kept = self.kept.get(ref)
        return kept is None or kept == contact

    def erase(self, ref: str, by: str | None = None) -> bool:
        had = self.kept.get(ref) is not None
        self.kept[ref] = None
        self.erased_by[ref] = by
        return had


class MemoryPhotos:
    """The photos' index in dicts."""

    def __init__(self) -> None:
        self.photos: dict[str, Attachment] = {}
        self.uploaders: dict[str, set[Principal]] = defaultdict(set)
        self.named_by: dict[str, list[UUID]] = defaultdict(list)

    def upload(self, uploader: Principal, attachment_id: str) -> str:
        self.photos[attachment_id] = Attachment(attachment_id, "0" * 64, "image/jpeg", 1, 1, 1)
        self.uploaders[attachment_id].add(uploader)
        return attachment_id

    def get(self, attachment_id: str) -> Attachment | None:
        return self.photos.get(attachment_id)

    def uploaded_by(self, attachment_id: str, principal: Principal) -> bool:
        return principal in self.uploaders[attachment_id]

    def refer(self, attachment_ids: list[str], call_id: UUID) -> None:
        for attachment_id in attachment_ids:
            if call_id not in self.named_by[attachment_id]:
                self.named_by[attachment_id].append(call_id)

    def calls_naming(self, attachment_id: str) -> list[UUID]:
        return list(self.named_by[attachment_id])


@dataclass
class InMemory:
    """One huying in memory: the log, the call, work-order and directive services, and what they
    reach."""

    clock: FakeClock = field(default_factory=lambda: FakeClock(start=T0))
    contacts: MemoryContacts = field(default_factory=MemoryContacts)
    index: MemoryPhotos = field(default_factory=MemoryPhotos)

    def __post_init__(self) -> None:
        org = load_org()
        # Every event is sealed: the voucher never needs the legacy boundary's table.
        voucher = Voucher(SealKeys([b"unit-test seal key"]), create_engine("sqlite://"))
        self.app = HuyingApplication(
            env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
            org=org,
            catalog=load_catalog(org),
            clock=self.clock,
            voucher=voucher,
        )
        services = command_services(
            self.app,
            self.contacts,
            self.index,
            reopen_window=timedelta(days=7),
            max_capture_age=timedelta(days=7),
        )
        self.calls: CallService = services[0]
        self.orders: WorkOrderService = services[1]
        self.photos: Photos = services[2]
        self.directives: DirectiveService = services[3]
        self.meetings: MeetingService = services[4]

    @property
    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0
