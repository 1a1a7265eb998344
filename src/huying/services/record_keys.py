"""Crypto-shredding: every reporter contact is sealed under a data key of its own, made at random
when the contact is kept, stored only wrapped by a master key (``keyring``), and deleted when the
contact is erased. From then on its ciphertexts — wherever a copy of them lies: a WAL, a free
page, a backup — decrypt with nothing.

Deleting the key must destroy its bytes at once, so on SQLite the keys live in a file of their
own (``HUYING_KEYS_URL``, default ``huying.keys.db``) with ``secure_delete`` — a deleted key is
overwritten with zeros in the page — and every shredding ends with a TRUNCATE checkpoint: the
WAL, which still holds older images of the page, is copied back and cut to zero bytes. Only the
contact book reads this file, briefly, so the checkpoint is not held off the way it would be in
the main database's busy WAL. On PostgreSQL see docs/privacy.md.

A raise does not wait for a key of its own to be committed: keys are made ahead, ``AHEAD`` at a
time in one transaction, each under a random ref of its own (``RecordKeys.new_ref``); the raise
takes one that is already stored and its contact is kept under that ref. The next ``AHEAD`` are
made in a thread of their own once fewer than ``LOW_WATER`` are left, so that under a steady load
no raise finds none and waits for them (only a process's first raise does). A key taken but never
used (its raise refused, or the process stopped with keys still ahead) is a random key under a
random ref: it seals nothing and says nothing about anyone.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections import deque
from time import time_ns
from uuid import UUID

from sqlalchemy import Engine, create_engine, delete, func, select, update

from huying.clock import Clock
from huying.db import reporter_keys, sqlite_engine
from huying.groupcommit import GroupedInserts
from huying.onloop import off_loop
from huying.services.keyring import RECORD_KEY_BYTES, KeyRing
from huying.settings import Settings

log = logging.getLogger(__name__)

# Keys made ahead in one transaction: one commit to the key store for this many raises, instead
# of one turn in a commit for each.
AHEAD = 64
# Fewer left than this, and the next ``AHEAD`` are made in the background. When the raise that
# found none left made them, every raise arriving during that commit waited for it too: under
# P1's load on SQLite, p99 51.6–54.5 ms then, 47.0–49.3 ms made in the background (three pairs).
LOW_WATER = AHEAD // 2
# How long ``settle`` waits for keys being made in the background (seconds).
_SETTLE_SECONDS = 30.0
# Refs handed out and not yet used to keep a contact, remembered at most (a raise refused after
# taking its ref never comes back for the key; the oldest are forgotten first).
HANDED_OUT = 4096

# Refs looked up in the key store per statement.
_LOOKED_UP = 500


def random_ref() -> str:
    """A record's ref: random, so that nothing stored or served is a function of the reporter.

    A version 7 UUID (RFC 9562): the millisecond it was made (ahead of the raise that takes it:
    nothing about the reporter), then 74 random bits. Refs made one after another sort
    together, so a new key's and its contact's index entries land on the last pages of their
    indexes rather than each on a page of its own: at 100,000 calls on SQLite those two indexes
    wrote 0.56 pages of WAL a raise, against 2.5 with version 4 refs; at a million calls on
    PostgreSQL 0.3 kB, against 5.8 kB of full page images (docs/benchmarks.md)."""
    made = time_ns() // 1_000_000 & (1 << 48) - 1
    noise = secrets.randbits(74)
    value = made << 80 | 0x7 << 76 | (noise >> 62) << 64 | 0b10 << 62 | noise & (1 << 62) - 1
    return str(UUID(int=value))


class RecordKeys:
    def __init__(self, engine: Engine, ring: KeyRing, clock: Clock) -> None:
        self.engine = engine
        self.ring = ring
        self._clock = clock
        self._writes = GroupedInserts(engine)  # many raises' new keys in one transaction
        self._ahead: deque[tuple[str, bytes]] = deque()  # stored, not yet handed out
        self._making = threading.Lock()  # one thread makes the next keys ahead; others wait
        self._handed_out: dict[str, bytes] = {}  # ref → its stored key, until a contact uses it
        self._handing = threading.Lock()
        self._settled = threading.Event()  # no keys being made in the background
        self._settled.set()

    @property
    def ahead(self) -> int:
        """Keys stored and not yet handed out."""
        return len(self._ahead)

    def new_ref(self) -> str:
        """A new record's ref, its key already stored: taken from the keys made ahead; the next
        ``AHEAD`` made in the background when fewer than ``LOW_WATER`` are left, and in place
        (one transaction) when none is."""
        while True:
            try:
                ref, key = self._ahead.popleft()
            except IndexError:
                off_loop(self._make_ahead, 1)  # a commit, and a lock: not on the event loop (``onloop``)
                continue
            if len(self._ahead) < LOW_WATER:
                self._make_ahead_in_background()
            with self._handing:
                self._handed_out[ref] = key
                while len(self._handed_out) > HANDED_OUT:
                    del self._handed_out[next(iter(self._handed_out))]
            return ref

    def settle(self) -> None:
        """Returns once no keys are being made in the background (``close``, and tests counting
        the stored keys)."""
        self._settled.wait(_SETTLE_SECONDS)

    def _make_ahead(self, fewer_than: int) -> None:
        """``AHEAD`` more keys, unless (once this thread's turn has come) ``fewer_than`` are left
        no longer: another thread made them meanwhile."""
        with self._making:
            if len(self._ahead) < fewer_than:
                refs = [random_ref() for _ in range(AHEAD)]
                self._ahead.extend(zip(refs, self.make_many(refs), strict=True))

    def _make_ahead_in_background(self) -> None:
        with self._handing:
            if not self._settled.is_set():
                return  # already under way
            self._settled.clear()
        try:
            threading.Thread(target=self._made_ahead, name="huying-record-keys", daemon=True).start()
        except RuntimeError:  # no thread to be had: the raise that finds none left makes them
            self._settled.set()

    def _made_ahead(self) -> None:
        try:
            self._make_ahead(LOW_WATER)
        except Exception as e:  # the raise that finds none left makes them, and says what fails
            log.warning("record keys: the next ones were not made ahead: %s", str(e).partition("\n")[0])
        finally:
            self._settled.set()

    def for_records(self, refs: list[str]) -> list[bytes]:
        """The key of each record: the one ``new_ref`` handed out with it, the one already stored
        under it (a ref handed out long ago and forgotten), or else a new one — the new ones
        stored in one transaction before this returns."""
        with self._handing:
            found = {ref: key for ref in refs if (key := self._handed_out.pop(ref, None)) is not None}
        found.update(self._stored([ref for ref in refs if ref not in found]))
        missing = [ref for ref in refs if ref not in found]
        if missing:
            found.update(zip(missing, self.make_many(missing), strict=True))
        return [found[ref] for ref in refs]

    def _stored(self, refs: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        if not refs:
            return found
        with self.engine.connect() as conn:
            for start in range(0, len(refs), _LOOKED_UP):
                chunk = refs[start : start + _LOOKED_UP]
                rows = conn.execute(select(reporter_keys).where(reporter_keys.c.ref.in_(chunk)))
                found.update({r.ref: self.ring.unwrap(r.master_key_id, r.wrapped, r.ref) for r in rows})
        return found

    def make(self, ref: str) -> bytes:
        """A new random key for the record ``ref``, stored wrapped under the newest master key."""
        [key] = self.make_many([ref])
        return key

    def make_many(self, refs: list[str]) -> list[bytes]:
        """``make`` for several records at once (bulk writers), stored once this returns."""
        keys, rows, now = [], [], self._clock.now()
        for ref in refs:
            key = os.urandom(RECORD_KEY_BYTES)
            master_id, wrapped = self.ring.wrap(key, ref)
            keys.append(key)
            rows.append({"ref": ref, "master_key_id": master_id, "wrapped": wrapped, "created_at": now})
        self._writes.insert((reporter_keys, rows))
        return keys

    def get(self, ref: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reporter_keys).where(reporter_keys.c.ref == ref)).first()
        return self.ring.unwrap(row.master_key_id, row.wrapped, ref) if row is not None else None

    def shred(self, ref: str) -> None:
        """The record's key is gone, its bytes overwritten, no older copy left in a WAL."""
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(reporter_keys).where(reporter_keys.c.ref == ref)).rowcount
        if deleted:
            self._cut_wal()

    def rewrap(self) -> int:
        """Every record key not yet under the newest master key, re-wrapped under it (so the older
        master keys can be retired); how many were."""
        newest = self.ring.newest.id
        with self.engine.begin() as conn:
            rows = conn.execute(select(reporter_keys).where(reporter_keys.c.master_key_id != newest)).all()
            for row in rows:
                master_id, wrapped = self.ring.wrap(
                    self.ring.unwrap(row.master_key_id, row.wrapped, row.ref), row.ref
                )
                conn.execute(
                    update(reporter_keys)
                    .where(reporter_keys.c.ref == row.ref)
                    .values(master_key_id=master_id, wrapped=wrapped)
                )
        self._cut_wal()
        return len(rows)

    def by_master_key(self) -> dict[str, int]:
        """How many record keys each master key wraps."""
        column = reporter_keys.c.master_key_id
        with self.engine.connect() as conn:
            return {str(k): int(n) for k, n in conn.execute(select(column, func.count()).group_by(column))}

    def _cut_wal(self) -> None:
        """SQLite: copy the WAL back into the file and truncate it, so the older page images it
        holds (deleted or re-wrapped keys) are gone with it. Waits for readers (busy timeout)."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as conn:
            busy, *_ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.error(
                "record keys: the WAL was not truncated; old key pages stay in it until the next erasure"
            )


def key_store(settings: Settings, main: Engine) -> Engine:
    """Where the record keys live: the main database's engine, or one of their own."""
    return main if settings.keys_url == settings.database_url else _own_key_store(settings.keys_url)


def prepare_key_store(settings: Settings) -> None:
    """Creates the record keys' table where keys live apart from the main database (there,
    Alembic has made it)."""
    if settings.keys_url == settings.database_url:
        return
    engine = _own_key_store(settings.keys_url)
    try:
        reporter_keys.create(engine, checkfirst=True)
    finally:
        engine.dispose()


def _own_key_store(url: str) -> Engine:
    return _sqlite_key_file(url) if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)


def _sqlite_key_file(url: str) -> Engine:
    # WAL, cut after each shredding (``RecordKeys._cut_wal``); durable as the main database.
    return sqlite_engine(url, secure_delete=True)
