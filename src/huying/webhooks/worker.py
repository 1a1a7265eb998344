"""The webhook deliveries' background duty, wired like the projector: one process of the
deployment delivers at a time — the one holding the ``webhooks`` duty's lock (``huying.duties``)
— woken after every commit (a local save; another process's, by NOTIFY on PostgreSQL) and every
so often besides."""

from __future__ import annotations

from huying.application import HuyingApplication
from huying.background import GATHER_SECONDS_UNWAITED, Follower
from huying.clock import Clock
from huying.webhooks.sender import Sender


class WebhookWorker:
    def __init__(self, app: HuyingApplication, sender: Sender, poll_seconds: float = 1.0) -> None:
        self.sender = sender
        self._follower = Follower("huying-webhooks", sender.wake, poll_seconds, GATHER_SECONDS_UNWAITED)
        self._listening = False
        self._app = app

    @property
    def running(self) -> bool:
        return self._follower.running

    @property
    def clock(self) -> Clock:
        return self.sender.clock

    def start(self) -> None:
        """This process holds the duty: deliver."""
        if not self._listening:
            self._app.on_saved(self._follower.wake)
            self._listening = True
        self.sender.start()
        self.sender.set_active(True)
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()
        self.sender.set_active(False)
        self.sender.stop()

    def wake(self) -> None:
        self._follower.wake()
