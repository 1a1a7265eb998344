"""``huying.postgres.readable``, the pools' look at an idle connection: it must work for any
descriptor, as a long-running process (a test worker, a busy server) holds past 1,024 of them,
where ``select`` raises (CI: a test worker's PostgreSQL tests all failed once its connections'
descriptors passed 1,024)."""

from __future__ import annotations

import os
import resource
import socket
from collections.abc import Iterator

import pytest

from huying.postgres import readable

PAST_SELECT = 1100  # select() takes descriptors below FD_SETSIZE, 1,024


@pytest.fixture
def far_descriptor() -> Iterator[tuple[int, socket.socket]]:
    """One end of a socket pair at descriptor 1,100, and the other end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft <= PAST_SELECT:
        resource.setrlimit(resource.RLIMIT_NOFILE, (PAST_SELECT + 1, hard))
    near, other = socket.socketpair()
    far = os.dup2(near.fileno(), PAST_SELECT)
    near.close()
    try:
        yield far, other
    finally:
        os.close(far)
        other.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_descriptor_past_selects_range_is_looked_at(far_descriptor: tuple[int, socket.socket]) -> None:
    far, other = far_descriptor
    assert far == PAST_SELECT
    assert not readable(far, 0)  # nothing said
    other.send(b"x")
    assert readable(far, 1.0)
    os.read(far, 1)
    assert not readable(far, 0)
    other.close()  # the other end hangs up: readable (end of file)
    assert readable(far, 1.0)
