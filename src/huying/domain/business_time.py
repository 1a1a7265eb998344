"""The business time anyone may name — a day, a period or an instant — in the API, the console
and the CLI alike. Real calls lie well inside it; its ends keep every sum made on a date (a day
added, a month's end, a working calendar walked for years, ±14 h of offset) far inside what
Python's dates (years 1–9999) and the databases can hold."""

from __future__ import annotations

from datetime import date

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2200, 12, 31)


def business_year(year: int, what: str) -> None:
    """``ValueError`` naming ``what`` when ``year`` lies outside business time."""
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise ValueError(f"{what} must lie between {FIRST_DAY} and {LAST_DAY}")
