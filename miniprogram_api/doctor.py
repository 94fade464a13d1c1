"""The family doctor's API (`/api/doctor/v1`): my teams' patients and their contracts."""
from flask.views import MethodView
from server.web.blueprint import Blueprint

from server.contracts import services as contracts
from server.contracts.schemas import ContractDetailSchema, ContractQuerySchema, ContractSchema
from server.identity.roles import Role
from server.residents import services as residents
from server.residents.schemas import ResidentSchema
from server.web.auth import current_actor, requires
from server.web.schemas import page_schema, split_page

blp = Blueprint("doctor", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台")


@blp.route("/patients")
class Patients(MethodView):
    @requires(Role.TEAM_MEMBER)
    @blp.arguments(ContractQuerySchema, location="query")
    @blp.response(200, page_schema(ContractSchema))
    def get(self, args):
        """My teams' contracts (one row per signed patient and period)."""
        page, filters = split_page(args)
        return contracts.list_contracts(current_actor(), page, **filters)


@blp.route("/patients/<int:resident_id>")
class PatientById(MethodView):
    @requires(Role.TEAM_MEMBER)
    @blp.response(200, ResidentSchema)
    def get(self, resident_id):
        """A patient of my teams (masked); the read is audited."""
        return residents.get_resident(current_actor(), resident_id)


@blp.route("/contracts/<int:contract_id>")
class ContractById(MethodView):
    @requires(Role.TEAM_MEMBER)
    @blp.response(200, ContractDetailSchema)
    def get(self, contract_id):
        """One contract of my teams with its history."""
        return contracts.get_contract(current_actor(), contract_id)
