"""SQL date arithmetic, JSON list membership and staged text read as fen or UTC, the same on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class add_days(FunctionElement):  # noqa: N801  (reads as a SQL function)
    """`add_days(date_column, days)` → the date that many days later."""

    type = sa.Date()
    inherit_cache = True
    name = "add_days"


@compiles(add_days, "postgresql")
def _add_days_pg(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"(CAST({compiler.process(day, **kw)} AS DATE) + CAST({compiler.process(days, **kw)} AS INTEGER))"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, '+' || ({compiler.process(days, **kw)}) || ' days')"


class json_list_has(FunctionElement):  # noqa: N801  (reads as a SQL function)
    """`json_list_has(json_list_column, value)` → whether the JSON list of strings holds `value`."""

    type = sa.Boolean()
    inherit_cache = True
    name = "json_list_has"


@compiles(json_list_has, "postgresql")
def _json_list_has_pg(element, compiler, **kw):
    values, value = list(element.clauses)
    return f"(CAST({compiler.process(values, **kw)} AS JSONB) ? CAST({compiler.process(value, **kw)} AS TEXT))"


@compiles(json_list_has, "sqlite")
def _json_list_has_sqlite(element, compiler, **kw):
    values, value = list(element.clauses)
    return (f"EXISTS (SELECT 1 FROM json_each({compiler.process(values, **kw)}) AS listed "
            f"WHERE listed.value = {compiler.process(value, **kw)})")


class fen(FunctionElement):  # noqa: N801  (reads as a SQL function)
    """`fen(staged_yuan_text)` → integer fen, exactly (the text matched `AMOUNT`'s pattern)."""

    type = sa.BigInteger()
    inherit_cache = True
    name = "fen"


@compiles(fen, "postgresql")
def _fen_pg(element, compiler, **kw):
    return f"CAST(CAST({compiler.process(element.clauses, **kw)} AS NUMERIC(15, 2)) * 100 AS BIGINT)"


@compiles(fen, "sqlite")
def _fen_sqlite(element, compiler, **kw):
    # Eleven digits and two decimals stay exact in a double, and rounding removes its error.
    return f"CAST(ROUND(CAST({compiler.process(element.clauses, **kw)} AS REAL) * 100) AS INTEGER)"


class beijing_to_utc(FunctionElement):  # noqa: N801  (reads as a SQL function)
    """`beijing_to_utc(staged_time_text)` → the UTC timestamp, as `UTCDateTime` stores it."""

    type = sa.DateTime(timezone=True)
    inherit_cache = True
    name = "beijing_to_utc"


@compiles(beijing_to_utc, "postgresql")
def _beijing_pg(element, compiler, **kw):
    return f"(CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMP) AT TIME ZONE 'Asia/Shanghai')"


@compiles(beijing_to_utc, "sqlite")
def _beijing_sqlite(element, compiler, **kw):
    # China keeps no daylight saving time since 1991.
    return f"strftime('%Y-%m-%d %H:%M:%S.000000', {compiler.process(element.clauses, **kw)}, '-8 hours')"
