"""The sealing nonces are drawn from the system's random source in batches (``keyring.Nonces``):
none is ever handed out twice — not within a process, nor by a parent and a child forked while
some were drawn and not yet handed out."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from huying.services import keyring
from huying.services.keyring import Nonces, seal, unseal


def test_nonces_are_twelve_bytes_and_never_handed_out_twice() -> None:
    nonces = Nonces(batch=16)
    drawn = [nonces.next() for _ in range(10_000)]  # many batches
    assert {len(n) for n in drawn} == {12}
    assert len(set(drawn)) == len(drawn)


def _draw(nonces: Nonces, count: int, to: Connection) -> None:
    to.send([nonces.next() for _ in range(count)])


def test_a_forked_child_draws_none_of_the_nonces_its_parent_had_drawn() -> None:
    nonces = Nonces(batch=64)
    first = nonces.next()  # 63 drawn and not yet handed out when the child is forked
    fork = multiprocessing.get_context("fork")
    mine, theirs = fork.Pipe()
    child = fork.Process(target=_draw, args=(nonces, 63, theirs))
    child.start()
    in_child: list[bytes] = mine.recv()
    child.join()
    assert child.exitcode == 0
    in_parent = [nonces.next() for _ in range(63)]
    assert not set(in_child) & {first, *in_parent}


def test_the_module_forgets_its_drawn_nonces_in_a_forked_child() -> None:
    keyring._NONCES.next()
    fork = multiprocessing.get_context("fork")
    mine, theirs = fork.Pipe()
    child = fork.Process(target=_draw, args=(keyring._NONCES, 8, theirs))
    child.start()
    in_child: list[bytes] = mine.recv()
    child.join()
    in_parent = [keyring._NONCES.next() for _ in range(8)]
    assert not set(in_child) & set(in_parent)


def test_what_is_sealed_with_a_nonce_drawn_so_unseals() -> None:
    key = bytes(range(32))
    sealed = [seal(key, b"13912345678", "phone|ref") for _ in range(3)]
    assert len({s[:12] for s in sealed}) == 3
    assert {unseal(key, s, "phone|ref") for s in sealed} == {b"13912345678"}
