"""Imported exchange rates: store them (idempotent per day, currency and origin) and load them back."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from npswatch.pipelines.fx import Rate, usable_rate

from .writer import upsert
from .tables import T_FX


def store_rates(engine: Engine, rates: Iterable[Rate]) -> int:
    """Insert or update rates; returns how many rows were written. A rate that is not a finite positive number
    is never written (the readers refuse them; this guards every other caller)."""
    rows = {(r.day, r.currency, r.source): {"day": r.day, "currency": r.currency, "units_per_usd": r.units_per_usd,
                                            "origin": r.source} for r in rates if usable_rate(r.units_per_usd)}
    with engine.begin() as conn:
        upsert(conn, T_FX, list(rows.values()), ["day", "currency", "origin"],
               lambda ex: {"units_per_usd": ex.units_per_usd})
    return len(rows)


def load_rates(engine: Engine) -> list[Rate]:
    with engine.connect() as conn:
        return [Rate(r.day, r.currency, r.units_per_usd, r.origin)
                for r in conn.execute(select(T_FX.c.day, T_FX.c.currency, T_FX.c.units_per_usd, T_FX.c.origin))
                if r.units_per_usd is not None and usable_rate(r.units_per_usd)]
