"""Roles, the data scope each one sees, and the use cases each may run."""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TypeVar

from server.errors import Forbidden


class Role(str, enum.Enum):
    RESIDENT = "resident"                    # 参保人员
    TEAM_MEMBER = "team_member"              # 家庭医生团队成员
    INSTITUTION_MANAGER = "institution_manager"  # 基层医疗卫生机构管理员
    BUREAU_STAFF = "bureau_staff"            # 统筹地区医保部门工作人员
    ASSESSOR = "assessor"                    # 第三方评估人员


STAFF_ROLES = frozenset({Role.TEAM_MEMBER, Role.INSTITUTION_MANAGER, Role.BUREAU_STAFF, Role.ASSESSOR})
# Who uses the admin console; team members work through the doctor API instead.
ADMIN_ROLES = (Role.BUREAU_STAFF, Role.ASSESSOR, Role.INSTITUTION_MANAGER)
# Who runs the programme and so reads its people, contracts, teams, staff and agreements. Not
# assessors: they check assigned institutions' results only (PIPL's minimum necessary).
MANAGING_ROLES = (Role.BUREAU_STAFF, Role.INSTITUTION_MANAGER)


class Level(str, enum.Enum):
    """How far an actor's view reaches; each role sees exactly one level."""

    REGION = "region"
    ASSIGNMENT = "assignment"  # the (run, institution) pairs a third-party assessor is assigned to
    INSTITUTION = "institution"
    TEAM = "team"
    RESIDENT = "resident"


LEVEL_OF_ROLE = {
    Role.BUREAU_STAFF: Level.REGION,
    Role.ASSESSOR: Level.ASSIGNMENT,
    Role.INSTITUTION_MANAGER: Level.INSTITUTION,
    Role.TEAM_MEMBER: Level.TEAM,
    Role.RESIDENT: Level.RESIDENT,
}


@dataclass(frozen=True)
class Actor:
    """The caller of a use case, resolved once per request; services never see Flask.

    `ip` and `user_agent` travel along so the audit log can say where an action came from.
    """

    role: Role
    account_id: int
    region_id: int | None = None
    institution_id: int | None = None
    team_ids: frozenset[int] = field(default_factory=frozenset)
    resident_ids: frozenset[int] = field(default_factory=frozenset)
    assignment_ids: frozenset[int] = field(default_factory=frozenset)
    staff_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def level(self) -> Level:
        return LEVEL_OF_ROLE[self.role]

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def ids_at_level(self) -> frozenset[int]:
        """The ids that bound this actor's view at its own level."""
        if self.level is Level.REGION:
            return frozenset({self.region_id}) if self.region_id else frozenset()
        if self.level is Level.ASSIGNMENT:
            return self.assignment_ids
        if self.level is Level.INSTITUTION:
            return frozenset({self.institution_id}) if self.institution_id else frozenset()
        if self.level is Level.TEAM:
            return self.team_ids
        return self.resident_ids


SYSTEM_ACTOR = Actor(role=Role.BUREAU_STAFF, account_id=0)
"""Used by jobs and CLI commands; audit rows show account 0 as 'system'."""

UseCase = TypeVar("UseCase", bound=Callable)


def allowed(*roles: Role) -> Callable[[UseCase], UseCase]:
    """Declare the roles that may run a use case (a service function taking the actor first).

    The one place a use case's roles are written: the use case refuses anyone else when
    called, and keeps them as `roles` (in the order given) for the API, which checks a
    caller before reading their input and lists the roles in the OpenAPI document.
    """
    declared = tuple(dict.fromkeys(roles))

    def declare(use_case: UseCase) -> UseCase:
        @wraps(use_case)
        def checked(actor: Actor, *args, **kwargs):
            if actor.role not in declared:
                raise Forbidden()
            return use_case(actor, *args, **kwargs)
        checked.roles = declared
        return checked  # type: ignore[return-value]
    return declare
