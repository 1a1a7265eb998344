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

On SQLite the terms (``rm_call_text``) carry an FTS5 index kept by triggers; on any other
database :func:`text_matches` falls back to LIKE over the same terms, with the same answers.
(On PostgreSQL a pg_trgm GIN index on ``rm_call_text.terms`` would make that fallback fast.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import ColumnElement, column, literal, literal_column, select, table

from huying.domain.errors import InvalidCommand
from huying.projections.tables import CALL_TEXT_INDEX, rm_call_text, rm_calls

_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits, in any script


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


def text_matches(found: Sequence[str], *, indexed: bool) -> ColumnElement[bool]:
    """Calls whose title or description holds every word: through the FTS5 index when
    ``indexed`` (SQLite), else LIKE over the stored terms — the same answers, slower."""
    if indexed:
        index = table(CALL_TEXT_INDEX, column("rowid"))
        phrases = " ".join(f'"{w}"*' if len(w) == 1 else f'"{" ".join(_pairs(w)[:-1])}"' for w in found)
        hits = select(index.c.rowid).where(literal_column(CALL_TEXT_INDEX).op("MATCH")(phrases))
        return rm_calls.c.seq.in_(hits)
    padded = literal(" ") + rm_call_text.c.terms + literal(" ")
    patterns = [f"% {w}%" if len(w) == 1 else f"% {' '.join(_pairs(w)[:-1])} %" for w in found]
    return rm_calls.c.seq.in_(select(rm_call_text.c.seq).where(*(padded.like(p) for p in patterns)))
