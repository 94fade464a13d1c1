"""Use cases for teams, staff and memberships, run by institution managers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, paginate_rows
from server.common.timeutil import local_today
from server.common.uow import transaction
from server.errors import Conflict, RuleViolation
from server.extensions import db
from server.identity.roles import MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.contracts.eligibility import signed_counts
from server.institutions.models import Agreement, AgreementStatus, Institution
from server.teams.models import Staff, Team, TeamMembership


@allowed(*MANAGING_ROLES)
def list_teams(actor: Actor, page: PageRequest) -> Page[Team]:
    return paginate(scoped_select(Team, actor).order_by(Team.id), page)


@allowed(*MANAGING_ROLES)
def get_team(actor: Actor, team_id: int) -> Team:
    return get_visible(Team, team_id, actor)


@allowed(*MANAGING_ROLES)
def team_members(actor: Actor, team_id: int) -> list[TeamMembership]:
    get_visible(Team, team_id, actor)
    return list(db.session.scalars(
        scoped_select(TeamMembership, actor).where(TeamMembership.team_id == team_id).order_by(TeamMembership.id)))


@allowed(Role.INSTITUTION_MANAGER)
def create_team(actor: Actor, data: dict) -> Team:
    with transaction():
        institution = get_visible(Institution, data["institution_id"], actor)
        team = Team(region_id=institution.region_id, **data)
        db.session.add(team)
        db.session.flush()
        audit.record(actor, "team.create", "team", team.id, {"name": team.name})
    return team


@allowed(*MANAGING_ROLES)
def list_staff(actor: Actor, page: PageRequest) -> Page[Staff]:
    return paginate(scoped_select(Staff, actor).order_by(Staff.id), page)


@allowed(Role.INSTITUTION_MANAGER)
def create_staff(actor: Actor, data: dict) -> Staff:
    with transaction():
        institution = get_visible(Institution, data["institution_id"], actor)
        phone = data.pop("phone", None)
        staff = Staff(region_id=institution.region_id, **data)
        staff.set_phone(phone)
        db.session.add(staff)
        db.session.flush()
        audit.record(actor, "staff.create", "staff", staff.id, {"kind": staff.kind.value})
    return staff


@allowed(Role.INSTITUTION_MANAGER)
def add_member(actor: Actor, team_id: int, data: dict) -> TeamMembership:
    """Put a staff member of the same institution into a team."""
    with transaction():
        team = get_visible(Team, team_id, actor)
        staff = get_visible(Staff, data["staff_id"], actor)
        if staff.institution_id != team.institution_id:
            raise RuleViolation("只能添加本机构人员", code="STAFF_OTHER_INSTITUTION")
        current = db.session.scalar(sa.select(TeamMembership.id).where(
            TeamMembership.team_id == team.id, TeamMembership.staff_id == staff.id,
            TeamMembership.left_on.is_(None)))
        if current:
            raise Conflict("该人员已在团队中", code="ALREADY_MEMBER")
        membership = TeamMembership(team_id=team.id, **data)
        db.session.add(membership)
        db.session.flush()
        audit.record(actor, "team.member_add", "team", team.id, {"staff_id": staff.id})
    return membership


@allowed(Role.INSTITUTION_MANAGER)
def end_membership(actor: Actor, team_id: int, membership_id: int, left_on: date) -> TeamMembership:
    with transaction():
        get_visible(Team, team_id, actor)
        membership = get_visible(TeamMembership, membership_id, actor)
        if membership.team_id != team_id or membership.left_on is not None:
            raise RuleViolation("该成员关系已结束或不属于此团队", code="MEMBERSHIP_NOT_CURRENT")
        if left_on < membership.joined_on:
            raise RuleViolation("离开日期不能早于加入日期", code="MEMBERSHIP_DATES")
        membership.left_on = left_on
        audit.record(actor, "team.member_end", "team", team_id, {"membership_id": membership_id})
    return membership


@dataclass(frozen=True)
class TeamCard:
    id: int
    name: str
    institution_id: int
    institution_name: str
    address: str
    distance_km: float | None
    specialities: list[str]
    capacity: int
    places_left: int
    members: list[dict]


@allowed(Role.RESIDENT)
def browse_teams(actor: Actor, page: PageRequest, *, lat: float | None = None, lng: float | None = None,
                 on: date | None = None) -> Page[TeamCard]:
    """Teams of the region's institutions under an active agreement, nearest first when located."""
    year = (on or local_today()).year
    stmt = (sa.select(Team, Institution).join(Institution, Team.institution_id == Institution.id)
            .join(Agreement, sa.and_(Agreement.institution_id == Institution.id,
                                     Agreement.status == AgreementStatus.ACTIVE))
            .where(Team.region_id == actor.region_id, Team.is_active.is_(True)))
    if lat is not None and lng is not None:
        # Squared degrees rank well enough within one region; the card shows real kilometres.
        stmt = stmt.order_by(sa.func.coalesce(
            (Institution.latitude - lat) * (Institution.latitude - lat)
            + (Institution.longitude - lng) * (Institution.longitude - lng), 1e9), Team.id)
    else:
        stmt = stmt.order_by(Team.id)
    listed = paginate_rows(stmt, page)
    rows = listed.items
    team_ids = [team.id for team, _ in rows]
    members, signed = _members_of(team_ids), signed_counts(team_ids, year)
    cards = [TeamCard(team.id, team.name, institution.id, institution.name, institution.address,
                      _distance_km(lat, lng, institution), list(team.specialities), team.capacity,
                      max(team.capacity - signed.get(team.id, 0), 0), members.get(team.id, []))
             for team, institution in rows]
    return Page(cards, listed.total, listed.page, listed.per_page)


def _members_of(team_ids: list[int]) -> dict[int, list[dict]]:
    rows = db.session.execute(
        sa.select(TeamMembership.team_id, TeamMembership.is_leader, Staff.name, Staff.kind, Staff.title)
        .join(Staff, Staff.id == TeamMembership.staff_id)
        .where(TeamMembership.team_id.in_(team_ids), TeamMembership.left_on.is_(None))
        .order_by(TeamMembership.team_id, TeamMembership.is_leader.desc(), Staff.id)).all()
    members: dict[int, list[dict]] = {}
    for team_id, is_leader, name, kind, title in rows:
        members.setdefault(team_id, []).append({"name": name, "kind": kind, "title": title, "is_leader": is_leader})
    return members


def _distance_km(lat: float | None, lng: float | None, institution: Institution) -> float | None:
    if None in (lat, lng, institution.latitude, institution.longitude):
        return None
    phi1, phi2 = math.radians(lat), math.radians(institution.latitude)
    dphi, dlmb = phi2 - phi1, math.radians(institution.longitude - lng)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return round(6371 * 2 * math.asin(math.sqrt(a)), 1)
