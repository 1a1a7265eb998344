"""全文检索 — free text over a call's title and description, Chinese included.

Chinese is written without spaces, so no tokenizer can tell its words apart. The index holds
every pair of adjacent characters instead (as Lucene's CJK analyzer does): the run of letters
and digits 垃圾堆放 is stored as the terms ``垃圾 圾堆 堆放 放``. A searched word of two or more
characters is the phrase of its pairs (垃圾堆 → "垃圾 圾堆", each right after the one before);
one character is any term that starts with it. So a word matches exactly when it occurs in the
text — and 垃圾, the commonest kind of query, is one lookup in the index, where a trigram index
would have to read every row for a two-character word.

Punctuation and spaces separate words; a call matches when every word of ``q`` occurs in its
title or description, ignoring case and full-width forms (ＬＥＤ finds led).

On SQLite the terms (``rm_call_text``) carry an FTS5 index kept by triggers; on PostgreSQL their
lexemes are stored beside them (``LEXEMES``) under a GIN index; any other database falls back to
LIKE over the same terms, with the same answers. On SQLite a search of calls on the 台账 ledger
only (its statuses, or overdue) uses that LIKE too, call by call: FTS5 drives any query it is in,
and its matches are the word's whole history, while the ledger is the calls still open
(``text_index``). PostgreSQL's planner weighs its index against the other filters itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, column, exists, func, literal, literal_column, select, table

from huying.domain.errors import InvalidCommand
from huying.projections.tables import CALL_TEXT_INDEX, LEXEMES, rm_call_text, rm_calls

_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits, in any script
Cursor = ColumnElement[int]


def words(text: str) -> list[str]:
    """The runs of letters and digits, compatibility-normalised and case-folded."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _pairs(word: str) -> list[str]:
    """垃圾堆 → 垃圾 圾堆 堆: each character with the next, the last one alone."""
    return [word[i : i + 2] for i in range(len(word))]


def terms(*texts: str) -> str:
    """What the index holds of these texts."""
    return " ".join(pair for text in texts for word in words(text) for pair in _pairs(word))


def searched(q: str) -> tuple[str, ...]:
    """The words of a query, each once (422 when there is nothing to look for)."""
    found = tuple(dict.fromkeys(words(q)))
    if not found:
        raise InvalidCommand("q", "give at least one letter or digit to look for")
    return found


# How a database finds the terms: SQLite's FTS5 index, PostgreSQL's GIN index over the stored
# lexemes, or (any other database, and to check the two) LIKE over the stored terms.
FTS5, TSVECTOR, LIKE = "fts5", "tsvector", "like"


def text_index(dialect: str, *, among_open_calls: bool = False) -> str:
    """How ``dialect`` looks for words; ``among_open_calls``: in a search of the ledger's calls
    only (``CallFilter.on_ledger_only``). SQLite's FTS5 index then stands aside (LIKE): it would
    drive the query through the word's whole history. PostgreSQL's planner chooses between its
    index and testing each call the other filters yield, from the lexemes' statistics: at a
    million calls a street's page of 路灯 among its resolved calls took 8–25 ms either way it
    chose, where LIKE, planned on the statuses' misjudged count, took 102 ms warm."""
    if dialect == "sqlite":
        return LIKE if among_open_calls else FTS5
    return TSVECTOR if dialect == "postgresql" else LIKE


def by_text(query: Select[Any], found: Sequence[str], *, how: str) -> tuple[Select[Any], Cursor]:
    """``query`` (over rm_calls) narrowed to the calls whose title or description holds every
    word, and the column a page of it is ordered and cut by (a call's ``seq``).

    ``FTS5`` (SQLite): the FTS5 index drives the query. It yields its matches in rowid (= seq)
    order with the cursor applied inside it, so a page stops after ``limit`` matches that pass
    the other filters instead of collecting every match first: at a million calls, a street's
    page of 垃圾 (139,230 matches) took 1.2 ms this way, 82 ms the other.
    ``TSVECTOR`` (PostgreSQL): the stored lexemes, ``to_tsvector('simple', terms)`` — whose
    parser splits the terms at the spaces, in the C locale too — and their GIN index, with a word
    as the phrase of its pairs (``<->``) and one character as a prefix (``:*``). Stored, a call's
    lexemes are tested as they are where the planner tests calls one by one; with the index over
    the expression each was parsed again (a street's page of 井盖: 1.3 s at a million calls).
    ``LIKE``: the same answers from the stored terms of each call the rest of the query yields,
    in its own order, without an index. Alone that reads every call (2–4 s there); on SQLite's
    ledger (``text_index``) the other filters drive, and a page reads the unit's open calls at most,
    however long the history: at 100,000 calls a street's page of 垃圾 among its resolved calls
    took 1–3 ms this way, 30–57 ms walking the index's 19,312 matches from the oldest."""
    if how == FTS5:
        index = table(CALL_TEXT_INDEX, column("rowid"))
        phrases = " ".join(f'"{w}"*' if len(w) == 1 else f'"{" ".join(_pairs(w)[:-1])}"' for w in found)
        narrowed = query.join_from(rm_calls, index, index.c.rowid == rm_calls.c.seq).where(
            literal_column(CALL_TEXT_INDEX).op("MATCH")(phrases)
        )
        return narrowed, index.c.rowid
    if how == TSVECTOR:
        # Words are runs of letters and digits: nothing in them is tsquery syntax.
        wanted = " & ".join(
            f"'{w}':*" if len(w) == 1 else " <-> ".join(f"'{p}'" for p in _pairs(w)[:-1]) for w in found
        )
        tsquery = func.to_tsquery(literal_column("'simple'"), wanted)
        hits = select(rm_call_text.c.seq).where(literal_column(f"rm_call_text.{LEXEMES}").op("@@")(tsquery))
        return query.where(rm_calls.c.seq.in_(hits)), rm_calls.c.seq
    padded = literal(" ") + rm_call_text.c.terms + literal(" ")
    patterns = [f"% {w}%" if len(w) == 1 else f"% {' '.join(_pairs(w)[:-1])} %" for w in found]
    its_terms = select(rm_call_text.c.seq).where(
        rm_call_text.c.seq == rm_calls.c.seq, *(padded.like(p) for p in patterns)
    )
    return query.where(exists(its_terms)), rm_calls.c.seq
