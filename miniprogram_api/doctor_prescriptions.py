"""Long-term prescriptions (长期处方) in the family doctor's workspace (`/api/doctor/v1`)."""
from flask.views import MethodView

from server.identity.roles import Role
from server.prescriptions import services as prescriptions
from server.prescriptions.schemas import (DispensingInputSchema, DoctorPrescriptionQuerySchema,
                                          DoctorPrescriptionSchema, IssuePrescriptionSchema,
                                          PrescriptionWithWarningsSchema)
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.idempotent import idempotent
from server.web.schemas import page_schema, split_page

blp = Blueprint("doctor_prescriptions", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台：长期处方",
                serves=(Role.TEAM_MEMBER,))

IDEMPOTENCY_CODES = ("IDEMPOTENCY_KEY_INVALID", "IDEMPOTENCY_KEY_REUSED", "REQUEST_IN_PROGRESS")


@blp.route("/prescriptions")
class Prescriptions(MethodView):
    @blp.requires(prescriptions.list_for_team)
    @blp.arguments(DoctorPrescriptionQuerySchema, location="query")
    @blp.response(200, page_schema(DoctorPrescriptionSchema))
    def get(self, args):
        """My teams' long-term prescriptions, newest first; `due_within_days` lists those due for a refill."""
        page, filters = split_page(args)
        return prescriptions.list_for_team(current_actor(), page, **filters)

    @error_codes("NOT_TEAM_MEMBER", "PRESCRIBER_NOT_QUALIFIED", "CONTRACT_NOT_ACTIVE", "DATE_IN_FUTURE",
                 "OUTSIDE_CONTRACT_PERIOD", "RULES_NOT_IN_FORCE", "PRESCRIPTION_TOO_LONG",
                 "PRESCRIPTION_NEEDS_STABLE_PATIENT", "STABILITY_ASSESSMENT_REQUIRED",
                 "PATIENT_CONFIRMATION_REQUIRED", "DRUG_CLASS_EXCLUDED", "DUPLICATE_BENEFIT",
                 "PRESCRIPTION_OLDER_THAN_CURRENT", *IDEMPOTENCY_CODES)
    @blp.requires(prescriptions.issue_prescription)
    @idempotent
    @blp.arguments(IssuePrescriptionSchema)
    @blp.response(201, PrescriptionWithWarningsSchema)
    def post(self, data):
        """Issue a long-term prescription, or continue a higher-level hospital's (接续上级医疗机构处方).

        Up to the standard weeks (4) always; up to the maximum (12) only for a patient marked stable,
        with the stability assessment and the patient's confirmation. It replaces the contract's
        current prescription. A double benefit is refused, or issued and flagged in `warnings`,
        as the region's rules say.
        """
        return prescriptions.issue_prescription(current_actor(), data)


@blp.route("/prescriptions/<int:prescription_id>")
class PrescriptionById(MethodView):
    @blp.requires(prescriptions.get_prescription)
    @blp.response(200, DoctorPrescriptionSchema)
    def get(self, prescription_id):
        """One prescription of my teams with its drugs, dispensings and next refill date."""
        return prescriptions.get_prescription(current_actor(), prescription_id)


@blp.route("/prescriptions/<int:prescription_id>/dispensings")
class Dispensings(MethodView):
    @error_codes("NOT_TEAM_MEMBER", "PRESCRIPTION_NOT_ACTIVE", "CONTRACT_NOT_ACTIVE", "DATE_IN_FUTURE",
                 "OUTSIDE_CONTRACT_PERIOD", "DISPENSING_BEFORE_ISSUE", "PRESCRIPTION_ITEM_NOT_FOUND",
                 "DISPENSING_EXCEEDS_PRESCRIBED", "DISPENSING_ALREADY_RECORDED", "RULES_NOT_IN_FORCE",
                 "DUPLICATE_BENEFIT", *IDEMPOTENCY_CODES)
    @blp.requires(prescriptions.record_dispensing)
    @idempotent
    @blp.arguments(DispensingInputSchema)
    @blp.response(201, PrescriptionWithWarningsSchema)
    def post(self, data, prescription_id):
        """Record a filling (取药) of the prescription's drugs; returns the prescription with the next refill date."""
        return prescriptions.record_dispensing(current_actor(), prescription_id, data)
