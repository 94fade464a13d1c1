"""Institutions and their agreements with the bureau (协议管理)."""
from flask.views import MethodView
from server.web.blueprint import Blueprint

from server.identity.roles import ADMIN_ROLES
from server.institutions import services
from server.institutions.schemas import (
    AgreementEventSchema, AgreementQuerySchema, AgreementSchema, AgreementStatusChangeSchema, InstitutionSchema,
)
from server.web.auth import current_actor
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_institutions", __name__, url_prefix="/api/admin/v1", description="机构与协议管理",
                serves=ADMIN_ROLES)


@blp.route("/institutions")
class Institutions(MethodView):
    @blp.requires(services.list_institutions)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(InstitutionSchema))
    def get(self, args):
        """Institutions in the caller's scope."""
        page, _ = split_page(args)
        return services.list_institutions(current_actor(), page)

    @blp.requires(services.create_institution)
    @blp.arguments(InstitutionSchema)
    @blp.response(201, InstitutionSchema)
    def post(self, data):
        """Register a primary-care institution in the region."""
        return services.create_institution(current_actor(), data)


@blp.route("/institutions/<int:institution_id>")
class InstitutionById(MethodView):
    @blp.requires(services.get_institution)
    @blp.response(200, InstitutionSchema)
    def get(self, institution_id):
        """One institution."""
        return services.get_institution(current_actor(), institution_id)


@blp.route("/agreements")
class Agreements(MethodView):
    @blp.requires(services.list_agreements)
    @blp.arguments(AgreementQuerySchema, location="query")
    @blp.response(200, page_schema(AgreementSchema))
    def get(self, args):
        """Agreements in scope, optionally of one institution."""
        page, filters = split_page(args)
        return services.list_agreements(current_actor(), page, **filters)

    @blp.requires(services.create_agreement)
    @blp.arguments(AgreementSchema)
    @blp.response(201, AgreementSchema)
    def post(self, data):
        """Sign an agreement with an institution."""
        return services.create_agreement(current_actor(), data)


@blp.route("/agreements/<int:agreement_id>")
class AgreementById(MethodView):
    @blp.requires(services.get_agreement)
    @blp.response(200, AgreementSchema)
    def get(self, agreement_id):
        """One agreement."""
        return services.get_agreement(current_actor(), agreement_id)


@blp.route("/agreements/<int:agreement_id>/status")
class AgreementStatus(MethodView):
    @blp.requires(services.change_agreement_status)
    @blp.arguments(AgreementStatusChangeSchema)
    @blp.response(200, AgreementSchema)
    def post(self, data, agreement_id):
        """Suspend, reinstate, terminate or decline to renew an agreement, with a reason."""
        return services.change_agreement_status(current_actor(), agreement_id, data["status"], data["reason"])


@blp.route("/agreements/<int:agreement_id>/events")
class AgreementEvents(MethodView):
    @blp.requires(services.agreement_history)
    @blp.response(200, AgreementEventSchema(many=True))
    def get(self, agreement_id):
        """The agreement's status history."""
        return services.agreement_history(current_actor(), agreement_id)
