"""Data scope, decided here and nowhere else.

Every scoped model declares in `__scope__` how its rows map onto each level (region,
assignment, institution, team, resident): either a column name holding that level's id, or a
function of the allowed ids returning a SQL condition. Reference data every role of a region may read
(packages, rules) names its region column in `__region_wide__` instead, and a child table
that is visible exactly when its parent is says `inherit_scope(fk_column, Parent)`. Services build every query through
`visible()` / `scoped_select()` / `get_visible()`, so a view cannot forget the filter. A
level the model does not declare sees nothing.

A third-party assessor sees by assignment: the ids at their level are their assignments
(run, institution), and models say what an assignment opens. Region-wide data an assessor
may see only in part (the runs and schemes they are assigned in) declares that level in
`__scope__` beside `__region_wide__`. People appear to them with masked names (`shown_name`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from server.common.pii import mask_name
from server.errors import NotFound
from server.extensions import db
from server.identity.roles import Actor, Level

M = TypeVar("M")
ScopeRule = str | Callable[[frozenset[int]], ColumnElement[bool]]

# Rows that carry their region, institution, team and resident (contracts and the care
# recorded under them) are scoped by those columns at every level.
CARE_SCOPE: dict[Level, ScopeRule] = {
    Level.REGION: "region_id",
    Level.INSTITUTION: "institution_id",
    Level.TEAM: "team_id",
    Level.RESIDENT: "resident_id",
}


@dataclass(frozen=True)
class Inherited:
    """A child table's scope: a row is visible exactly when its parent row is."""

    foreign_key: Any
    parent: type


def inherit_scope(foreign_key, parent: type) -> Inherited:
    return Inherited(foreign_key, parent)


def visible(model: type, actor: Actor) -> ColumnElement[bool]:
    """The SQL condition selecting the rows of `model` that `actor` may see."""
    scope: dict[Level, ScopeRule] | Inherited | None = getattr(model, "__scope__", None)
    if isinstance(scope, Inherited):
        return scope.foreign_key.in_(sa.select(scope.parent.id).where(visible(scope.parent, actor)))
    rule = (scope or {}).get(actor.level)
    region_column = getattr(model, "__region_wide__", None)
    if region_column is not None and rule is None:
        if actor.region_id is None:
            return sa.false()
        return getattr(model, region_column) == actor.region_id
    ids = actor.ids_at_level()
    if rule is None or not ids:
        return sa.false()
    if isinstance(rule, str):
        return getattr(model, rule).in_(sorted(ids))
    return rule(ids)


def scoped_select(model: type[M], actor: Actor) -> sa.Select:
    return sa.select(model).where(visible(model, actor))


def get_visible(model: type[M], row_id: int, actor: Actor, *, for_update: bool = False) -> M:
    """Load one row the actor may see; anything else is 'not found', never a hint it exists."""
    stmt = scoped_select(model, actor).where(model.id == row_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = db.session.scalars(stmt).first()
    if row is None:
        raise NotFound()
    return row


def shown_name(actor: Actor, name: str | None) -> str | None:
    """A person's name as the actor may see it: an assessor checks numbers, not people, so only the first character."""
    return mask_name(name) if actor.level is Level.ASSIGNMENT else name
