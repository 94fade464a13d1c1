"""Staged rows as the bureau-file import hands them to a domain's apply step: a SQL selectable.

A UNION of one-row SELECTs with typed columns, which SQLite and PostgreSQL both read (SQLite
has no `VALUES … AS t (columns)`), so apply steps are tested without the loader.
"""
from __future__ import annotations

import sqlalchemy as sa

from server.extensions import db

ROSTER = {"line": sa.Integer(), "chg_sn": sa.String(), "resident_id": sa.BigInteger(), "chg_type": sa.String(),
          "chg_date": sa.Date(), "insu_admdvs": sa.String()}
REGISTRATIONS = {"line": sa.Integer(), "reg_sn": sa.String(), "resident_id": sa.BigInteger(), "scheme": sa.String(),
                 "disease_code": sa.String(), "valid_from": sa.Date(), "valid_to": sa.Date()}


def staged(columns: dict[str, sa.types.TypeEngine], rows: list[dict]) -> sa.Subquery:
    """`rows` (column → value; a missing column is NULL), lines numbered from 2 unless given, as a selectable."""
    # PostgreSQL needs a type on every bound value of a UNION; SQLite would turn a CAST to DATE into a number.
    cast = sa.cast if db.session.get_bind().dialect.name == "postgresql" else sa.type_coerce
    selects = [sa.select(*[cast(sa.literal(row.get(name, number + 2) if name == "line" else row.get(name), kind), kind)
                           .label(name) for name, kind in columns.items()])
               for number, row in enumerate(rows)]
    return sa.union_all(*selects).subquery("staged")
