"""What an export holds, as SQL over the scope rules, read in chunks and turned into FHIR resources.

An export is about a set of contracts (a `Selection`: those of a region or institution whose
period meets the export's, or one resident's) and the care recorded under them in the period.
Everything else follows from those contracts in SQL: the people they are for, the teams, the
staff any of their records name and the institutions of all of those, so every reference
in the export resolves within it. Each resource type is one generator that selects plain
columns (never ORM objects, which the session would keep) with `yield_per`, so a file of a
whole region is produced `CHUNK` rows at a time.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from fhir.resources.R4B.resource import Resource

from server.common.timeutil import SHANGHAI
from server.contracts.models import Contract
from server.extensions import db
from server.fhir import resources as fhir
from server.identity.roles import Actor
from server.identity.scoping import visible
from server.institutions.models import Institution
from server.packages.models import PackageItem, PackageVersion, ServicePackage
from server.prescriptions.models import Prescription, PrescriptionItem
from server.regions.models import Region
from server.residents.models import Resident
from server.servicerecords.models import Reading, ServiceRecord
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse
from server.teams.models import Staff, Team, TeamMembership

CHUNK = 500  # rows fetched at a time: what an export holds in memory, whatever the region's size


@dataclass(frozen=True)
class Selection:
    """The contracts an export is about (a SELECT of their ids), the people it covers, and the days
    (local dates, both ends included; None: unbounded) its care must fall on."""

    contracts: sa.Select
    residents: sa.Select
    start: date | None = None
    end: date | None = None


def region_selection(actor: Actor, *, institution_id: int | None, start: date | None,
                     end: date | None) -> Selection:
    """The actor's contracts (of one institution, if given) whose period meets [start, end]."""
    contracts = sa.select(Contract.id).where(visible(Contract, actor))
    if institution_id is not None:
        contracts = contracts.where(Contract.institution_id == institution_id)
    if end is not None:
        contracts = contracts.where(Contract.period_start <= end)
    if start is not None:
        contracts = contracts.where(Contract.period_end >= start)
    return Selection(contracts, sa.select(Contract.resident_id).where(Contract.id.in_(contracts)), start, end)


def resident_selection(actor: Actor, resident_id: int) -> Selection:
    """Everything of one resident the actor may see, in any period."""
    contracts = sa.select(Contract.id).where(visible(Contract, actor), Contract.resident_id == resident_id)
    return Selection(contracts, sa.select(Resident.id).where(visible(Resident, actor), Resident.id == resident_id))


def _stream(stmt: sa.Select):
    return db.session.execute(stmt.execution_options(yield_per=CHUNK))


def _on_days(column, selection: Selection):
    """A DATE column within the selection's days."""
    bounds = [column >= selection.start] if selection.start else []
    bounds += [column <= selection.end] if selection.end else []
    return sa.and_(sa.true(), *bounds)


def _during_days(column, selection: Selection):
    """A UTC timestamp column within the selection's local days."""
    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), SHANGHAI)
    bounds = [column >= midnight(selection.start)] if selection.start else []
    bounds += [column < midnight(selection.end + timedelta(days=1))] if selection.end else []
    return sa.and_(sa.true(), *bounds)


# --- Who and where the contracts' care names ---------------------------------------------------------

def _team_ids(selection: Selection) -> sa.Select:
    return sa.select(Contract.team_id).where(Contract.id.in_(selection.contracts))


def _staff_ids(selection: Selection) -> sa.CompoundSelect:
    """Every staff member a resource of the selection refers to: responsible doctors, whoever served,
    prescribed or entered an answer under its contracts, and the members of its teams."""
    contracts = selection.contracts
    return sa.union(
        sa.select(Contract.doctor_staff_id).where(Contract.id.in_(contracts), Contract.doctor_staff_id.is_not(None)),
        sa.select(ServiceRecord.staff_id).where(ServiceRecord.contract_id.in_(contracts)),
        sa.select(Prescription.prescriber_staff_id).where(Prescription.contract_id.in_(contracts)),
        sa.select(SurveyResponse.entered_by_staff_id)
        .join(SurveyInvitation, SurveyInvitation.id == SurveyResponse.invitation_id)
        .where(SurveyInvitation.contract_id.in_(contracts), SurveyResponse.entered_by_staff_id.is_not(None)),
        sa.select(TeamMembership.staff_id).where(TeamMembership.team_id.in_(_team_ids(selection))),
    )


def organizations(selection: Selection, identified: bool) -> Iterator[Resource]:
    """The region's bureau (the payor of every Coverage) and the institutions of the contracts and staff."""
    regions = sa.select(Contract.region_id).where(Contract.id.in_(selection.contracts))
    for row in _stream(sa.select(Region.id, Region.admdvs_code, Region.name).where(Region.id.in_(regions))
                       .order_by(Region.id)):
        yield fhir.bureau(row)
    institution_ids = sa.union(
        sa.select(Contract.institution_id).where(Contract.id.in_(selection.contracts)),
        sa.select(Staff.institution_id).where(Staff.id.in_(_staff_ids(selection))))
    stmt = (sa.select(Institution.id, Institution.code, Institution.name, Institution.kind, Institution.address)
            .where(Institution.id.in_(institution_ids)).order_by(Institution.id))
    for row in _stream(stmt):
        yield fhir.institution(row)


def _staff(selection: Selection) -> sa.Select:
    return (sa.select(Staff.id, Staff.institution_id, Staff.name, Staff.kind, Staff.licence_no, Staff.is_active)
            .where(Staff.id.in_(_staff_ids(selection))).order_by(Staff.id))


def practitioners(selection: Selection, identified: bool) -> Iterator[Resource]:
    for row in _stream(_staff(selection)):
        yield fhir.practitioner(row)


def practitioner_roles(selection: Selection, identified: bool) -> Iterator[Resource]:
    for row in _stream(_staff(selection)):
        yield fhir.practitioner_role(row)


def care_teams(selection: Selection, identified: bool) -> Iterator[Resource]:
    """The contracts' teams; a region has tens of teams, so their memberships are read in one go."""
    teams = db.session.execute(sa.select(Team.id, Team.institution_id, Team.name, Team.is_active)
                               .where(Team.id.in_(_team_ids(selection))).order_by(Team.id)).all()
    members: dict[int, list] = {}
    for m in db.session.execute(
            sa.select(TeamMembership.team_id, TeamMembership.staff_id, TeamMembership.is_leader,
                      TeamMembership.joined_on, TeamMembership.left_on)
            .where(TeamMembership.team_id.in_(_team_ids(selection)))
            .order_by(TeamMembership.team_id, TeamMembership.joined_on, TeamMembership.id)):
        members.setdefault(m.team_id, []).append(m)
    for team in teams:
        yield fhir.care_team(team, members.get(team.id, []))


# --- People and their contracts -----------------------------------------------------------------------

def patients(selection: Selection, identified: bool) -> Iterator[Resource]:
    stmt = (sa.select(Resident.id, Resident.name, Resident.gender, Resident.birth_date, Resident.id_number,
                      Resident.address)
            .where(Resident.id.in_(selection.residents)).order_by(Resident.id))
    for row in _stream(stmt):
        yield fhir.patient(row, identified=identified)


def _contracts(selection: Selection) -> sa.Select:
    return (sa.select(Contract.id, Contract.contract_no, Contract.region_id, Contract.resident_id,
                      Contract.institution_id, Contract.team_id, Contract.doctor_staff_id, Contract.status,
                      Contract.period_start, Contract.period_end, Contract.ended_at,
                      ServicePackage.code.label("package_code"), ServicePackage.name.label("package_name"),
                      PackageVersion.version.label("package_version"))
            .join(PackageVersion, PackageVersion.id == Contract.package_version_id)
            .join(ServicePackage, ServicePackage.id == PackageVersion.package_id)
            .where(Contract.id.in_(selection.contracts)).order_by(Contract.id))


def episodes_of_care(selection: Selection, identified: bool) -> Iterator[Resource]:
    for row in _stream(_contracts(selection)):
        yield fhir.episode_of_care(row)


def coverages(selection: Selection, identified: bool) -> Iterator[Resource]:
    for row in _stream(_contracts(selection)):
        yield fhir.coverage(row)


# --- Care under the contracts, in the period --------------------------------------------------------

def encounters(selection: Selection, identified: bool) -> Iterator[Resource]:
    stmt = (sa.select(ServiceRecord.id, ServiceRecord.resident_id, ServiceRecord.contract_id,
                      ServiceRecord.institution_id, ServiceRecord.staff_id, ServiceRecord.service_type,
                      ServiceRecord.served_at, PackageItem.code.label("item_code"),
                      PackageItem.name.label("item_name"))
            .join(PackageItem, PackageItem.id == ServiceRecord.package_item_id)
            .where(ServiceRecord.contract_id.in_(selection.contracts), _on_days(ServiceRecord.served_on, selection))
            .order_by(ServiceRecord.id))
    for row in _stream(stmt):
        yield fhir.encounter(row)


def observations(selection: Selection, identified: bool) -> Iterator[Resource]:
    """The readings taken at the period's visits (so each Observation's Encounter is in the export)."""
    stmt = (sa.select(Reading.id, Reading.service_record_id, Reading.resident_id, Reading.measured_at,
                      Reading.systolic_mmhg, Reading.diastolic_mmhg, Reading.fasting_glucose_mmol,
                      Reading.hba1c_percent, Reading.weight_kg, Reading.heart_rate_bpm, ServiceRecord.staff_id)
            .join(ServiceRecord, ServiceRecord.id == Reading.service_record_id)
            .where(ServiceRecord.contract_id.in_(selection.contracts), _on_days(ServiceRecord.served_on, selection))
            .order_by(Reading.id))
    for row in _stream(stmt):
        yield from fhir.observations(row)


def medication_requests(selection: Selection, identified: bool) -> Iterator[Resource]:
    """Each drug of the prescriptions issued in the period; a prescription is valid while its contract serves."""
    stmt = (sa.select(PrescriptionItem.id, PrescriptionItem.prescription_id, PrescriptionItem.drug_code,
                      PrescriptionItem.drug_name, PrescriptionItem.specification, PrescriptionItem.dosage,
                      PrescriptionItem.frequency, PrescriptionItem.quantity, PrescriptionItem.unit,
                      Prescription.resident_id, Prescription.prescriber_staff_id, Prescription.issued_on,
                      Prescription.weeks, Prescription.status, Prescription.source_institution_name,
                      Prescription.source_prescription_no, Contract.period_end.label("valid_until"))
            .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
            .join(Contract, Contract.id == Prescription.contract_id)
            .where(Prescription.contract_id.in_(selection.contracts), _on_days(Prescription.issued_on, selection))
            .order_by(PrescriptionItem.id))
    for row in _stream(stmt):
        yield fhir.medication_request(row)


def questionnaires(selection: Selection, identified: bool) -> Iterator[Resource]:
    surveys = sa.select(SurveyInvitation.survey_id).where(SurveyInvitation.contract_id.in_(selection.contracts))
    for row in _stream(sa.select(Survey.id, Survey.name, Survey.questions, Survey.is_active)
                       .where(Survey.id.in_(surveys)).order_by(Survey.id)):
        yield fhir.questionnaire(row)


def questionnaire_responses(selection: Selection, identified: bool) -> Iterator[Resource]:
    """Answers about the period's visits (an answer goes with the visit it rates), or answered in
    the period when they rate no particular visit."""
    stmt = (sa.select(SurveyResponse.id, SurveyResponse.resident_id, SurveyResponse.entered_by_staff_id,
                      SurveyResponse.score_ability, SurveyResponse.score_attitude, SurveyResponse.score_timeliness,
                      SurveyResponse.score_overall, SurveyResponse.comment, SurveyResponse.answered_at,
                      SurveyInvitation.survey_id, SurveyInvitation.service_record_id)
            .join(SurveyInvitation, SurveyInvitation.id == SurveyResponse.invitation_id)
            .outerjoin(ServiceRecord, ServiceRecord.id == SurveyInvitation.service_record_id)
            .where(SurveyInvitation.contract_id.in_(selection.contracts),
                   sa.or_(sa.and_(ServiceRecord.id.is_not(None), _on_days(ServiceRecord.served_on, selection)),
                          sa.and_(ServiceRecord.id.is_(None), _during_days(SurveyResponse.answered_at, selection))))
            .order_by(SurveyResponse.id))
    for row in _stream(stmt):
        yield fhir.questionnaire_response(row)


# Every resource type the export offers, in the order a reader loads them (referenced before referring).
RESOURCE_TYPES: dict[str, Callable[[Selection, bool], Iterator[Resource]]] = {
    "Organization": organizations,
    "Practitioner": practitioners,
    "PractitionerRole": practitioner_roles,
    "CareTeam": care_teams,
    "Patient": patients,
    "EpisodeOfCare": episodes_of_care,
    "Coverage": coverages,
    "Encounter": encounters,
    "Observation": observations,
    "MedicationRequest": medication_requests,
    "Questionnaire": questionnaires,
    "QuestionnaireResponse": questionnaire_responses,
}
