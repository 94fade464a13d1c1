"""SQL date arithmetic and JSON list membership that read the same on SQLite and PostgreSQL."""
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
