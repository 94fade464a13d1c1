"""Residents, contracts, packages and the audit trail, as bureau and institution staff see them."""
from flask.views import MethodView
from server.web.blueprint import Blueprint

from server.audit import services as audit
from server.audit.schemas import AuditEventSchema, AuditQuerySchema
from server.contracts import services as contracts
from server.contracts.schemas import ContractDetailSchema, ContractQuerySchema, ContractSchema, TerminateSchema
from server.identity.roles import ADMIN_ROLES
from server.packages import services as packages
from server.packages.schemas import ServicePackageSchema
from server.residents import services as residents
from server.residents.schemas import ResidentQuerySchema, ResidentSchema, ResidentSummarySchema
from server.web.auth import current_actor
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_people", __name__, url_prefix="/api/admin/v1", description="参保人员、签约与审计",
                serves=ADMIN_ROLES)


@blp.route("/packages")
class Packages(MethodView):
    @blp.requires(packages.list_packages)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(ServicePackageSchema))
    def get(self, args):
        """The region's service packages with their versions and items."""
        page, _ = split_page(args)
        return packages.list_packages(current_actor(), page)


@blp.route("/packages/<int:package_id>")
class PackageById(MethodView):
    @blp.requires(packages.get_package)
    @blp.response(200, ServicePackageSchema)
    def get(self, package_id):
        """One service package."""
        return packages.get_package(current_actor(), package_id)


@blp.route("/residents")
class Residents(MethodView):
    @blp.requires(residents.search_residents)
    @blp.arguments(ResidentQuerySchema, location="query")
    @blp.response(200, page_schema(ResidentSummarySchema))
    def get(self, args):
        """Search residents in scope (masked); the read is audited."""
        page, filters = split_page(args)
        return residents.search_residents(current_actor(), page, **filters)


@blp.route("/residents/<int:resident_id>")
class ResidentById(MethodView):
    @blp.requires(residents.get_resident)
    @blp.response(200, ResidentSchema)
    def get(self, resident_id):
        """One resident (masked); the read is audited."""
        return residents.get_resident(current_actor(), resident_id)


@blp.route("/contracts")
class Contracts(MethodView):
    @blp.requires(contracts.list_contracts)
    @blp.arguments(ContractQuerySchema, location="query")
    @blp.response(200, page_schema(ContractSchema))
    def get(self, args):
        """Contracts in scope, filtered by status, year or resident."""
        page, filters = split_page(args)
        return contracts.list_contracts(current_actor(), page, **filters)


@blp.route("/contracts/<int:contract_id>")
class ContractById(MethodView):
    @blp.requires(contracts.get_contract)
    @blp.response(200, ContractDetailSchema)
    def get(self, contract_id):
        """One contract with its history."""
        return contracts.get_contract(current_actor(), contract_id)


@blp.route("/contracts/<int:contract_id>/terminate")
class ContractTerminate(MethodView):
    @blp.requires(contracts.terminate_contract)
    @blp.arguments(TerminateSchema)
    @blp.response(200, ContractDetailSchema)
    def post(self, data, contract_id):
        """Terminate an active contract, with a reason."""
        return contracts.terminate_contract(current_actor(), contract_id, data["reason"])


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @blp.requires(audit.list_events)
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, page_schema(AuditEventSchema))
    def get(self, args):
        """The region's audit trail: who did what, when, from where."""
        page, filters = split_page(args)
        return audit.list_events(current_actor(), page, **filters)
