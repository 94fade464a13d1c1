"""Long-term prescriptions (长期处方): issuing within the 4/12-week rules, dispensing, and reading them.

Every number (standard and maximum weeks, excluded drug classes, what to do about a double
benefit) comes from the region's rules in force on the prescription's date. The rules of a
dispensing, with the contract and double-benefit rules issuing shares, are in
`dispensing_rules`, which the batch import applies too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.errors import Forbidden, RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.packages.models import PackageVersion
from server.prescriptions import guards
from server.prescriptions.dispensing_rules import SCHEME_NAMES, ContractDay, Filling, PrescribedDrug, benefit_details, \
    contract_problem, dispensing_problem, duplicate_benefit_problem
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem, PrescriptionStatus, refill_due_on
from server.regions.models import LocalRules
from server.regions.rules import max_prescription_weeks, rules_in_force, rules_on
from server.residents.benefits import held_under
from server.residents.models import BenefitEnrolment, ChronicCondition
from server.supervision.models import AlertKind, SupervisionAlert
from server.teams.models import Staff, StaffKind

# Who holds prescribing rights in a team (处方权): doctors and village doctors, not nurses or
# public-health staff. A fact of medical practice law, not regional policy.
PRESCRIBING_KINDS = frozenset({StaffKind.DOCTOR, StaffKind.VILLAGE_DOCTOR})

# Chinese names of the drug classes the national long-term prescription rules exclude, for messages.
DRUG_CLASS_NAMES = {
    "toxic": "医疗用毒性药品",
    "radioactive": "放射性药品",
    "precursor": "易制毒药品",
    "narcotic": "麻醉药品",
    "psychotropic_1": "第一类精神药品",
    "psychotropic_2": "第二类精神药品",
    "antimicrobial": "抗微生物药物",
    "special_storage": "对储存条件有特殊要求的药品",
}


@dataclass(frozen=True)
class PrescriptionWarning:
    """Something the prescriber must know about a prescription that was nevertheless issued."""

    code: str
    message: str
    details: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading


@allowed(Role.RESIDENT, Role.TEAM_MEMBER)
def list_prescriptions(actor: Actor, page: PageRequest, *, resident_id: int | None = None,
                       status: PrescriptionStatus | None = None, contract_id: int | None = None,
                       due_within_days: int | None = None, today: date | None = None) -> Page[Prescription]:
    """Prescriptions the actor may see, newest first; `due_within_days` keeps the active ones whose
    supply runs out within that many days (already run out included)."""
    stmt = (scoped_select(Prescription, actor)
            .options(selectinload(Prescription.items), selectinload(Prescription.dispensings))
            .order_by(Prescription.issued_on.desc(), Prescription.id.desc()))
    stmt = where_given(stmt, (Prescription.resident_id, resident_id), (Prescription.status, status),
                       (Prescription.contract_id, contract_id))
    if due_within_days is not None:
        by = (today or local_today()) + timedelta(days=due_within_days)
        stmt = stmt.where(Prescription.status == PrescriptionStatus.ACTIVE, refill_due_on() <= by)
    return paginate(stmt, page)


@allowed(Role.TEAM_MEMBER)
def list_for_team(actor: Actor, page: PageRequest, *, resident_id: int | None = None,
                  due_within_days: int | None = None, status: PrescriptionStatus | None = None,
                  contract_id: int | None = None) -> Page[Prescription]:
    """The prescriptions of the actor's teams, optionally only those due for a refill."""
    return list_prescriptions(actor, page, resident_id=resident_id, status=status, contract_id=contract_id,
                              due_within_days=due_within_days)


@allowed(Role.TEAM_MEMBER)
def get_prescription(actor: Actor, prescription_id: int) -> Prescription:
    return get_visible(Prescription, prescription_id, actor)


# ---------------------------------------------------------------- issuing


@allowed(Role.TEAM_MEMBER)
def issue_prescription(actor: Actor, data: dict) -> Prescription:
    """A team doctor issues (or continues from a higher-level hospital) a long-term prescription.

    It replaces the contract's current prescription, which is completed. A double benefit
    is refused or issued and flagged to supervision, as the region's rules say; a flag comes
    back in the prescription's `warnings`.
    """
    with transaction():
        prescriber = _prescriber(actor)
        # Locking the contract serialises prescribing for one person: one active script at a time.
        contract = get_visible(Contract, data["contract_id"], actor, for_update=True)
        issued_on: date = data["issued_on"]
        _check_contract_on(contract, issued_on, "开具")
        rules = rules_in_force(contract.region_id, issued_on)
        version = get_visible(PackageVersion, contract.package_version_id, actor)
        stable = _check_weeks(actor, contract, version, rules, data)
        items = data["items"]
        _check_drug_classes(rules, items)
        benefits = held_under(contract, issued_on)
        if problem := duplicate_benefit_problem(benefits, rules.duplicate_benefit_policy):
            raise problem
        current = list(db.session.scalars(scoped_select(Prescription, actor).where(
            Prescription.contract_id == contract.id, Prescription.status == PrescriptionStatus.ACTIVE)))
        later = [p for p in current if p.issued_on > issued_on]
        if later:
            raise RuleViolation("该签约已有开具日期更晚的长期处方，不能以更早的日期开具新处方",
                                code="PRESCRIPTION_OLDER_THAN_CURRENT",
                                details={"current_prescription_id": later[0].id,
                                         "current_issued_on": later[0].issued_on.isoformat()})
        source = data.get("continued_from") or {}
        confirmed = data.get("patient_confirmed", False)
        prescription = Prescription(
            contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
            institution_id=contract.institution_id, team_id=contract.team_id, prescriber_staff_id=prescriber.id,
            issued_on=issued_on, weeks=data["weeks"], stable_patient=stable,
            stability_assessment=(data.get("stability_assessment") or "").strip(),
            patient_confirmed_at=utcnow() if confirmed else None, status=PrescriptionStatus.ACTIVE,
            source_institution_name=source["institution_name"].strip() if source else None,
            source_prescription_no=source["prescription_no"].strip() if source else None)
        db.session.add(prescription)
        for previous in current:
            previous.status = PrescriptionStatus.COMPLETED
        with guards.one_active_per_contract():  # the flush writes the completions before the new row
            db.session.flush()
        for item in items:
            db.session.add(PrescriptionItem(
                prescription_id=prescription.id, drug_code=item["drug_code"].strip(),
                drug_name=item["drug_name"].strip(), drug_class=_normal_class(item["drug_class"]),
                specification=item.get("specification", "").strip(), dosage=item["dosage"].strip(),
                frequency=item["frequency"].strip(), quantity=_cents(item["quantity"]), unit=item["unit"].strip()))
        warnings = []
        if benefits:
            warnings.append(flag_duplicate_benefit(contract, benefits, "prescription", prescription.id,
                                                    {"issued_on": issued_on.isoformat(),
                                                     "drugs": [i["drug_code"] for i in items]}))
        for previous in current:
            audit.record(actor, "prescription.complete", "prescription", previous.id,
                         {"replaced_by": prescription.id})
        audit.record(actor, "prescription.issue", "prescription", prescription.id, {
            "contract_id": contract.id, "weeks": prescription.weeks, "stable_patient": stable,
            "drugs": [i["drug_code"] for i in items], "continued": bool(source),
            "replaces": [p.id for p in current], "duplicate_benefit_flagged": bool(benefits)})
        db.session.flush()
        db.session.refresh(prescription, ["items", "dispensings"])
    prescription.warnings = warnings
    return prescription


def _prescriber(actor: Actor) -> Staff:
    if actor.staff_id is None:
        raise Forbidden("该账号未关联医务人员", code="NOT_TEAM_MEMBER")
    staff = get_visible(Staff, actor.staff_id, actor)
    if staff.kind not in PRESCRIBING_KINDS or not staff.is_active:
        raise Forbidden("只有团队中的医生（含乡村医生）可以开具长期处方", code="PRESCRIBER_NOT_QUALIFIED",
                        details={"staff_kind": staff.kind.value})
    return staff


def _check_contract_on(contract: Contract, on: date, doing: str) -> None:
    """The contract serves on `on`: active now, `on` not in the future and inside its period."""
    if problem := contract_problem(ContractDay(doing, on, local_today(), contract.status, contract.period_start,
                                               contract.period_end)):
        raise problem


def _check_weeks(actor: Actor, contract: Contract, version: PackageVersion, rules: LocalRules, data: dict) -> bool:
    """Apply the 4/12-week rules; returns whether the patient counts as stable."""
    weeks = data["weeks"]
    standard, maximum = rules.prescription_standard_weeks, max_prescription_weeks(rules, stable=True)
    if weeks > maximum:
        raise RuleViolation(f"长期处方用量不得超过{maximum}周", code="PRESCRIPTION_TOO_LONG",
                            details={"weeks": weeks, "max_weeks": maximum})
    declared = bool(data.get("stable_patient"))
    stable_on_record = declared and db.session.scalar(
        scoped_select(ChronicCondition, actor).with_only_columns(ChronicCondition.id).where(
            ChronicCondition.resident_id == contract.resident_id,
            ChronicCondition.disease_code.in_(list(version.target_disease_codes)),
            ChronicCondition.stable.is_(True)).limit(1)) is not None
    if weeks <= standard:
        return stable_on_record
    if not stable_on_record:
        raise RuleViolation(f"超过{standard}周的长期处方仅限病情稳定的签约病种患者", code="PRESCRIPTION_NEEDS_STABLE_PATIENT",
                            details={"weeks": weeks, "standard_weeks": standard, "max_weeks": maximum,
                                     "stable_patient": declared})
    if not (data.get("stability_assessment") or "").strip():
        raise RuleViolation(f"开具超过{standard}周的长期处方须填写病情稳定性评估", code="STABILITY_ASSESSMENT_REQUIRED",
                            details={"field": "stability_assessment"})
    if data.get("patient_confirmed") is not True:
        raise RuleViolation(f"开具超过{standard}周的长期处方须经患者确认", code="PATIENT_CONFIRMATION_REQUIRED",
                            details={"field": "patient_confirmed"})
    return True


def _cents(quantity: Decimal) -> Decimal:
    """Quantities are kept to two decimal places, as the columns hold them."""
    return quantity.quantize(Decimal("0.01"))


def _normal_class(drug_class: str) -> str:
    return drug_class.strip().lower()


def _check_drug_classes(rules: LocalRules, items: list[dict]) -> None:
    excluded = {_normal_class(c) for c in rules.prescription_excluded_drug_classes or []}
    refused = [item for item in items if _normal_class(item["drug_class"]) in excluded]
    if refused:
        classes = sorted({_normal_class(item["drug_class"]) for item in refused})
        names = "、".join(DRUG_CLASS_NAMES.get(c, c) for c in classes)
        raise RuleViolation(f"{names}不得开具长期处方", code="DRUG_CLASS_EXCLUDED", details={
            "drug_classes": classes,
            "drugs": [{"drug_code": item["drug_code"], "drug_class": _normal_class(item["drug_class"])}
                      for item in refused]})


def flag_duplicate_benefit(contract: Contract, benefits: list[BenefitEnrolment], subject_type: str,
                            subject_id: int, extra: dict) -> PrescriptionWarning:
    details = benefit_details(benefits)
    db.session.add(SupervisionAlert(
        region_id=contract.region_id, institution_id=contract.institution_id, kind=AlertKind.DUPLICATE_BENEFIT,
        subject_type=subject_type, subject_id=str(subject_id),
        details={**details, "contract_id": contract.id, "resident_id": contract.resident_id,
                 "registration_nos": sorted({b.registration_no for b in benefits if b.registration_no}), **extra}))
    names = "或".join(SCHEME_NAMES.get(s, s) for s in details["schemes"])
    return PrescriptionWarning("DUPLICATE_BENEFIT", f"该患者已享受{names}待遇，本次记录已提交医保监管核查", details)


# ---------------------------------------------------------------- dispensing


@allowed(Role.TEAM_MEMBER)
def record_dispensing(actor: Actor, prescription_id: int, data: dict) -> Prescription:
    """Record a filling (取药) of an active prescription's drugs; returns the prescription with its new
    next refill date. A double benefit on that day is refused or flagged as at issue."""
    with transaction():
        if actor.staff_id is None:
            raise Forbidden("该账号未关联医务人员", code="NOT_TEAM_MEMBER")
        prescription = get_visible(Prescription, prescription_id, actor, for_update=True)
        dispensed_on: date = data["dispensed_on"]
        contract = get_visible(Contract, prescription.contract_id, actor)
        rules = rules_on(contract.region_id, dispensed_on)
        benefits = held_under(contract, dispensed_on)
        prescribed = {item.id: PrescribedDrug(item.id, item.drug_name, Decimal(item.quantity), item.unit)
                      for item in prescription.items}
        already = set(db.session.scalars(scoped_select(Dispensing, actor).with_only_columns(
            Dispensing.prescription_item_id).where(Dispensing.prescription_id == prescription.id,
                                                   Dispensing.dispensed_on == dispensed_on)))
        if problem := dispensing_problem(*(Filling(
                prescription_status=prescription.status, issued_on=prescription.issued_on,
                contract_status=contract.status, period_start=contract.period_start, period_end=contract.period_end,
                dispensed_on=dispensed_on, today=local_today(), drug=prescribed.get(line["prescription_item_id"]),
                asked_for={"prescription_item_id": line["prescription_item_id"]}, quantity=line["quantity"],
                already_recorded=line["prescription_item_id"] in already,
                benefit_policy=rules.duplicate_benefit_policy if rules else None, benefits=benefits)
                for line in data["items"])):
            raise problem
        rows = [Dispensing(prescription_id=prescription.id, prescription_item_id=line["prescription_item_id"],
                           institution_id=prescription.institution_id, dispensed_on=dispensed_on,
                           quantity=_cents(line["quantity"]), staff_id=actor.staff_id) for line in data["items"]]
        db.session.add_all(rows)
        with guards.one_dispensing_per_item_per_day():
            db.session.flush()
        warnings = []
        if benefits:
            warnings.append(flag_duplicate_benefit(contract, benefits, "dispensing", rows[0].id, {
                "prescription_id": prescription.id, "dispensed_on": dispensed_on.isoformat(),
                "dispensing_ids": [r.id for r in rows]}))
        audit.record(actor, "prescription.dispense", "prescription", prescription.id, {
            "dispensed_on": dispensed_on.isoformat(), "dispensing_ids": [r.id for r in rows],
            "duplicate_benefit_flagged": bool(benefits)})
        db.session.flush()
        db.session.refresh(prescription, ["items", "dispensings"])
    prescription.warnings = warnings
    return prescription
