"""Record keys made ahead (``RecordKeys.new_ref``): a raise takes a ref whose key is already
stored, so keeping its contact commits nothing to the key store; keys are made ``AHEAD`` at a
time in one transaction, in the background once fewer than ``LOW_WATER`` are left; every contact
still opens with the key stored under its ref, and an erasure still shreds it."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from httpx import Client

from huying.bootstrap import Services
from huying.domain.contact import Contact
from huying.services import record_keys
from huying.services.record_keys import AHEAD, LOW_WATER, RecordKeys, random_ref

from .reporters import Http, raise_body


@pytest.fixture
def http(client: Client, tokens: Any) -> Http:
    return Http(client, tokens)


def key_commits(keys: RecordKeys) -> int:
    return keys._writes.group_commit.groups


def test_a_raise_commits_nothing_to_the_key_store_once_keys_are_made_ahead(
    services: Services, http: Http
) -> None:
    keys = services.contacts.keys
    first = http.raise_call(raise_body("张三", "13812345678"))["id"]
    before = key_commits(keys)
    assert keys.ahead == AHEAD - 1
    second = http.raise_call(raise_body("李四", "13912345678"))["id"]

    assert key_commits(keys) == before, "the second raise waited for a key of its own"
    assert keys.ahead == AHEAD - 2
    assert http.reporter(first) == {"name": "张三", "phone": "13812345678"}
    assert http.reporter(second) == {"name": "李四", "phone": "13912345678"}


def test_keys_are_made_ahead_in_one_transaction_each_stored_under_its_ref(services: Services) -> None:
    book = services.contacts
    before = key_commits(book.keys)
    refs = [book.new_ref() for _ in range(AHEAD + 1)]
    book.keys.settle()

    assert key_commits(book.keys) == before + 2, f"{AHEAD + 1} refs should take two key commits"
    assert len(set(refs)) == len(refs)
    contacts = [(ref, Contact(f"陈{i}", f"1390000{i:04d}")) for i, ref in enumerate(refs)]
    book.keep_many(contacts)
    assert key_commits(book.keys) == before + 2, "keeping the contacts made keys again"
    assert all(book.get(ref) == contact for ref, contact in contacts)
    assert all(book.keys.get(ref) is not None for ref in refs)


def test_a_ref_not_made_ahead_gets_its_key_when_kept(services: Services) -> None:
    book = services.contacts
    ref = random_ref()
    before = key_commits(book.keys)
    book.keep(ref, Contact("王五", "13712345678"))

    assert key_commits(book.keys) == before + 1
    assert book.get(ref) == Contact("王五", "13712345678")


def test_a_ref_handed_out_and_forgotten_opens_with_the_key_stored_for_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_keys, "HANDED_OUT", 2)
    book = services.contacts
    oldest, *_ = [book.new_ref() for _ in range(3)]  # the oldest is forgotten
    stored = book.keys.get(oldest)
    book.keep(oldest, Contact("赵六", "13612345678"))

    assert book.keys.get(oldest) == stored, "the ref's stored key was replaced"
    assert book.get(oldest) == Contact("赵六", "13612345678")


def test_erasing_a_contact_kept_under_a_key_made_ahead_shreds_that_key(services: Services) -> None:
    book = services.contacts
    ref = book.new_ref()
    book.keep(ref, Contact("孙七", "13512345678"))
    assert book.keys.get(ref) is not None

    assert book.erase(ref, by="supervisor:LW")
    assert book.keys.get(ref) is None
    assert book.get(ref) is None


class MadeInPlace:
    """Counts the keys made by the raise that found none left, and in which threads the keys
    were made."""

    def __init__(self, keys: RecordKeys, monkeypatch: pytest.MonkeyPatch) -> None:
        self.in_place = 0
        self.threads: set[str] = set()
        make_ahead, make_many = keys._make_ahead, keys.make_many

        def making_ahead(fewer_than: int) -> None:
            self.in_place += fewer_than == 1
            make_ahead(fewer_than)

        def making(refs: list[str]) -> list[bytes]:
            self.threads.add(threading.current_thread().name)
            return make_many(refs)

        monkeypatch.setattr(keys, "_make_ahead", making_ahead)
        monkeypatch.setattr(keys, "make_many", making)


def test_the_next_keys_are_made_in_the_background_before_none_is_left(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raises one after another take keys as fast as the background makes them: only the first
    finds none and waits for them to be made; each later batch is made in a thread of its own
    once fewer than ``LOW_WATER`` are left."""
    book = services.contacts
    made = MadeInPlace(book.keys, monkeypatch)
    refs = []
    for _ in range(4 * AHEAD):
        refs.append(book.new_ref())
        if book.keys.ahead == LOW_WATER - 1:  # the next are being made: as raises spaced in time
            book.keys.settle()
            assert book.keys.ahead == LOW_WATER - 1 + AHEAD

    assert made.in_place == 1, "a raise after the first found no key left"
    assert "huying-record-keys" in made.threads, "no keys were made in the background"
    book.keep_many([(ref, Contact(f"陈{i}", f"1390000{i:04d}")) for i, ref in enumerate(refs)])
    assert all(book.keys.get(ref) is not None for ref in refs)
    assert book.get(refs[-1]) == Contact(f"陈{len(refs) - 1}", f"1390000{len(refs) - 1:04d}")


def test_keys_not_made_in_the_background_are_made_by_the_raise_that_finds_none(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A background batch that fails costs a warning: the raise that then finds no key left
    makes them in place, and its contact is kept under a stored key as any other."""
    book = services.contacts
    book.new_ref()  # the first batch, made in place
    make_many = book.keys.make_many

    def not_in_the_background(refs: list[str]) -> list[bytes]:
        if threading.current_thread().name == "huying-record-keys":
            raise RuntimeError("the key store went away")
        return make_many(refs)

    monkeypatch.setattr(book.keys, "make_many", not_in_the_background)
    made = MadeInPlace(book.keys, monkeypatch)
    refs = []
    with caplog.at_level(logging.WARNING, logger="huying.services.record_keys"):
        for _ in range(AHEAD):  # those left, and one more
            refs.append(book.new_ref())
            book.keys.settle()

    assert "the next ones were not made ahead: the key store went away" in caplog.text
    assert made.in_place == 1, "the raise that found no key left did not make them"
    book.keep(refs[-1], Contact("周八", "13412345678"))
    assert book.get(refs[-1]) == Contact("周八", "13412345678")
    assert book.keys.get(refs[-1]) is not None


def test_with_no_thread_to_be_had_the_raise_that_finds_none_makes_them(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that cannot start a thread (its limit reached) still raises: the keys are made
    by the raise that finds none left, and nothing waits for a batch that never started."""

    class NoThreads:
        class Thread:
            def __init__(self, **_: Any) -> None:
                pass

            def start(self) -> None:
                raise RuntimeError("can't start new thread")

    book = services.contacts
    book.new_ref()  # the first batch, made in place
    monkeypatch.setattr(record_keys, "threading", NoThreads)
    made = MadeInPlace(book.keys, monkeypatch)
    refs = [book.new_ref() for _ in range(AHEAD)]  # those left, and one more

    assert made.in_place == 1
    assert book.keys._settled.is_set(), "settle would wait for a batch that never started"
    book.keep(refs[-1], Contact("吴九", "13312345678"))
    assert book.get(refs[-1]) == Contact("吴九", "13312345678")
