"""The webhook deliveries' background duty, wired like the projector: a ``Follower`` woken after
every local save (and every so often for other processes' writes) that keeps the sender delivering
while this process holds the ``webhook-sender`` lease — one delivering process per deployment."""

from __future__ import annotations

import uuid
from datetime import timedelta

from huying.application import HuyingApplication
from huying.background import Follower
from huying.clock import Clock
from huying.services.leases import Lease
from huying.webhooks.sender import Sender


class WebhookWorker:
    def __init__(
        self, app: HuyingApplication, sender: Sender, lease: Lease, poll_seconds: float = 1.0
    ) -> None:
        self.sender = sender
        self.lease = lease
        self._follower = Follower("huying-webhooks", self._step, poll_seconds)
        self._listening = False
        self._app = app

    @classmethod
    def leased(cls, app: HuyingApplication, sender: Sender, ttl_seconds: float) -> WebhookWorker:
        holder = f"webhooks-{uuid.uuid4().hex[:12]}"
        return cls(
            app, sender, Lease(sender.store.engine, "webhook-sender", holder, timedelta(seconds=ttl_seconds))
        )

    @property
    def running(self) -> bool:
        return self._follower.running

    @property
    def clock(self) -> Clock:
        return self.sender.clock

    def start(self) -> None:
        if not self._listening:
            self._app.on_saved(self._follower.wake)
            self._listening = True
        self.sender.start()
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()
        self.sender.stop()
        self.lease.release()

    def wake(self) -> None:
        self._follower.wake()

    def _step(self) -> None:
        self.sender.set_active(self.lease.acquire())
