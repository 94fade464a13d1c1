"""The resident's API (`/api/mp/v1`): who I act for, their details and contracts.

Sign-in through WeChat arrives with the resident-journey milestone; this blueprint already
takes the bearer tokens it will issue.
"""
from flask.views import MethodView
from server.web.blueprint import Blueprint
from marshmallow import Schema, fields

from server.contracts import services as contracts
from server.contracts.schemas import ContractDetailSchema, ContractQuerySchema, ContractSchema
from server.identity.roles import Role
from server.packages import services as packages
from server.packages.schemas import ServicePackageSchema
from server.residents import services as residents
from server.residents.schemas import FamilyMemberSchema, ResidentSchema
from server.web.auth import current_actor
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("mp_resident", __name__, url_prefix="/api/mp/v1", description="居民端（小程序）",
                serves=(Role.RESIDENT,))


class ResidentMeSchema(Schema):
    account_id = fields.Integer()
    family = fields.List(fields.Nested(FamilyMemberSchema), metadata={"description": "本人、已生效的亲情代办，以及待对方确认的邀请（仅脱敏姓名）"})


@blp.route("/me")
class Me(MethodView):
    @blp.requires(residents.family_of)
    @blp.response(200, ResidentMeSchema)
    def get(self):
        """My WeChat account and the people I may act for."""
        actor = current_actor()
        return {"account_id": actor.account_id, "family": residents.family_of(actor)}


@blp.route("/residents/<int:resident_id>")
class ResidentById(MethodView):
    @blp.requires(residents.get_resident)
    @blp.response(200, ResidentSchema)
    def get(self, resident_id):
        """Myself or a family member I act for (identity numbers masked)."""
        return residents.get_resident(current_actor(), resident_id)


@blp.route("/contracts")
class Contracts(MethodView):
    @blp.requires(contracts.list_contracts)
    @blp.arguments(ContractQuerySchema, location="query")
    @blp.response(200, page_schema(ContractSchema))
    def get(self, args):
        """Contracts of myself and my family."""
        page, filters = split_page(args)
        return contracts.list_contracts(current_actor(), page, **filters)


@blp.route("/contracts/<int:contract_id>")
class ContractById(MethodView):
    @blp.requires(contracts.get_contract)
    @blp.response(200, ContractDetailSchema)
    def get(self, contract_id):
        """One of my or my family's contracts with its history."""
        return contracts.get_contract(current_actor(), contract_id)


@blp.route("/packages")
class Packages(MethodView):
    @blp.requires(packages.list_packages)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(ServicePackageSchema))
    def get(self, args):
        """Service packages of my region."""
        page, _ = split_page(args)
        return packages.list_packages(current_actor(), page)
