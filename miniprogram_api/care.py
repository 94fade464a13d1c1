"""What the resident receives: service history to confirm or dispute, prescriptions, satisfaction."""
from flask.views import MethodView

from server.identity.roles import Role
from server.prescriptions import services as prescriptions
from server.prescriptions.schemas import PrescriptionQuerySchema, PrescriptionSchema
from server.servicerecords import services as records
from server.servicerecords.schemas import DisputeSchema, ServiceRecordQuerySchema, ServiceRecordSchema
from server.surveys import services as surveys
from server.surveys.schemas import InvitationSchema, ResponseSchema
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("mp_care", __name__, url_prefix="/api/mp/v1", description="居民端：服务记录、长期处方与满意度",
                serves=(Role.RESIDENT,))


@blp.route("/service-records")
class ServiceRecords(MethodView):
    @blp.requires(records.history)
    @blp.arguments(ServiceRecordQuerySchema, location="query")
    @blp.response(200, page_schema(ServiceRecordSchema))
    def get(self, args):
        """Services delivered to me and my family, newest first."""
        page, filters = split_page(args)
        return records.history(current_actor(), page, **filters)


@blp.route("/service-records/<int:record_id>/confirm")
class Confirm(MethodView):
    @error_codes("SERVICE_ALREADY_ANSWERED")
    @blp.requires(records.confirm)
    @blp.response(200, ServiceRecordSchema)
    def post(self, record_id):
        """Confirm a service the doctor logged."""
        return records.confirm(current_actor(), record_id)


@blp.route("/service-records/<int:record_id>/dispute")
class Dispute(MethodView):
    @error_codes("SERVICE_ALREADY_ANSWERED")
    @blp.requires(records.dispute)
    @blp.arguments(DisputeSchema)
    @blp.response(200, ServiceRecordSchema)
    def post(self, data, record_id):
        """Dispute a logged service; it goes to the bureau's supervision."""
        return records.dispute(current_actor(), record_id, data["reason"])


@blp.route("/prescriptions")
class Prescriptions(MethodView):
    @blp.requires(prescriptions.list_prescriptions)
    @blp.arguments(PrescriptionQuerySchema, location="query")
    @blp.response(200, page_schema(PrescriptionSchema))
    def get(self, args):
        """Long-term prescriptions with drugs, weeks, dispensings and the next refill date."""
        page, filters = split_page(args)
        return prescriptions.list_prescriptions(current_actor(), page, **filters)


@blp.route("/survey-invitations")
class Invitations(MethodView):
    @blp.requires(surveys.open_invitations)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(InvitationSchema))
    def get(self, args):
        """Satisfaction invitations still waiting for an answer."""
        page, _ = split_page(args)
        return surveys.open_invitations(current_actor(), page)


@blp.route("/survey-invitations/<int:invitation_id>/response")
class Respond(MethodView):
    @error_codes("INVITATION_EXPIRED", "CONTRACT_NOT_ACTIVE", "NOT_SERVED", "ALREADY_ANSWERED")
    @blp.requires(surveys.respond)
    @blp.arguments(ResponseSchema)
    @blp.response(201, ResponseSchema)
    def post(self, data, invitation_id):
        """Rate the service: ability, attitude, timeliness, overall (1–5), optional comment."""
        return surveys.respond(current_actor(), invitation_id, data)
