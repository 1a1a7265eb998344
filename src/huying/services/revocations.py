"""Revocation notices: how every process of a deployment hears at once that a token was revoked.

Live tokens are remembered (``services.tokens``) so that a busy client is not looked up in the
database at every request: the lookup and its trip to a worker thread were a fifth of the CPU a
raise costs. Remembering is safe only if no process goes on trusting a token another process has
revoked. So every revocation, once committed, changes a word in a file of the data directory
(``token-revocations``) that every process of the deployment maps into memory; a remembered
token is trusted only while that word is what it was when the token was looked up. Reading it
is a memory read: no I/O, no lock, nothing to wait for in the event loop.

Any change means "something was revoked": the word is set to a fresh random value, so two
processes revoking at once need no lock between them, and a torn read can only make a token be
looked up again. Processes that do not share the data directory (hosts apart on one PostgreSQL)
do not hear each other's notices: for them ``token_cache_seconds`` bounds how long a revoked
token can still be trusted (``HUYING_TOKEN_CACHE_SECONDS=0``: never remembered).
"""

from __future__ import annotations

import mmap
import os
import secrets
import struct
from pathlib import Path
from typing import Protocol

_WORD = struct.Struct("<Q")
FILE_NAME = "token-revocations"


class Notices(Protocol):
    def current(self) -> int:
        """The word as it stands (no I/O)."""
        ...

    def announce(self) -> None:
        """A revocation was committed: change the word."""
        ...

    def close(self) -> None:
        """Let go of what it holds outside the process."""
        ...


class LocalNotices:
    """The notices of one process alone (a store built without a data directory)."""

    def __init__(self) -> None:
        self._word = 0

    def current(self) -> int:
        return self._word

    def announce(self) -> None:
        self._word = _fresh(self._word)

    def close(self) -> None:
        pass  # holds nothing outside the process


class SharedNotices:
    """The word in ``<data_dir>/token-revocations``, mapped shared by every process that opens it."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(data_dir / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _WORD.size:
                os.ftruncate(fd, _WORD.size)  # zeros; another process doing the same changes nothing
            self._map = mmap.mmap(fd, _WORD.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the file (through a descriptor of its own: ``close``)

    def current(self) -> int:
        try:
            word: int = _WORD.unpack_from(self._map)[0]
        except ValueError:  # unmapped (``close``) under a request still in flight: trust nothing
            return _fresh(0)
        return word

    def announce(self) -> None:
        if not self._map.closed:
            _WORD.pack_into(self._map, 0, _fresh(self.current()))

    def close(self) -> None:
        """Unmapped, and the descriptor the mapping held closed: a process that builds its
        services again and again (the tests) no longer keeps one per build until it runs out."""
        self._map.close()


def _fresh(word: int) -> int:
    while (new := secrets.randbits(64)) == word:
        pass
    return new
