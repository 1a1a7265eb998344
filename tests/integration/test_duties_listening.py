"""Which processes listen for the news of others on SQLite: a listener there looks at the files
every few milliseconds, so only a process that leaves a follower of the log to another process
runs one. A server whose watchdog is merely switched off (as every test's is) has nothing to hear:
with a listener anyway, each in-process test app spent CPU and the interpreter on looking."""

from __future__ import annotations

import pytest

from huying.bootstrap import Services
from huying.duties import Duties, Duty, offered_by
from huying.settings import Settings

pytestmark = pytest.mark.sqlite_only(reason="PostgreSQL listens on its socket: nothing idle")


def test_a_server_doing_every_follower_itself_listens_to_nobody(
    services: Services, settings: Settings
) -> None:
    assert not settings.run_watchdog  # the tests' servers: the watchdog off, not elsewhere
    duties = Duties(services, offered_by(settings))
    assert not duties.wakeups.delivers


@pytest.mark.parametrize("left", [Duty.PROJECTOR, Duty.CHAIN, Duty.WEBHOOKS])
def test_a_server_leaving_a_follower_to_another_process_listens(
    services: Services, settings: Settings, left: Duty
) -> None:
    duties = Duties(services, [d for d in offered_by(settings) if d is not left])
    assert duties.wakeups.delivers


def test_a_process_of_its_own_listens_whatever_it_does(services: Services) -> None:
    """`huying project`: every duty it follows the log for, and the writes are others'."""
    duties = Duties(services, [Duty.PROJECTOR, Duty.CHAIN, Duty.WEBHOOKS], apart=True)
    assert duties.wakeups.delivers
