"""The resident's way to a contract: teams, packages, signing, paying, renewing, changing team, cancelling."""
from flask.views import MethodView

from server.contracts import eligibility, lifecycle, services as contracts
from server.contracts.schemas import (
    CancelSchema, ChangeTeamSchema, ContractOverviewSchema, ContractSchema, OfferSchema, PaymentCheckSchema,
    PaymentParamsSchema, RenewSchema, SignSchema,
)
from server.identity.roles import Role
from server.integrations import registry
from server.payments import services as payments
from server.teams import services as teams
from server.teams.schemas import TeamBrowseArgsSchema, TeamCardSchema
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.idempotent import idempotent
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("mp_contracts", __name__, url_prefix="/api/mp/v1", description="居民端：签约与缴费",
                serves=(Role.RESIDENT,))


class TeamQuerySchema(PageArgsSchema, TeamBrowseArgsSchema):
    pass


@blp.route("/teams")
class Teams(MethodView):
    @blp.requires(teams.browse_teams)
    @blp.arguments(TeamQuerySchema, location="query")
    @blp.response(200, page_schema(TeamCardSchema))
    def get(self, args):
        """Teams to sign with, nearest first when lat/lng are given, with places left."""
        page, filters = split_page(args)
        return teams.browse_teams(current_actor(), page, **filters)


@blp.route("/residents/<int:resident_id>/offers")
class Offers(MethodView):
    @error_codes("RULES_NOT_IN_FORCE")
    @blp.requires(eligibility.offers_for)
    @blp.response(200, OfferSchema(many=True))
    def get(self, resident_id):
        """Packages this person may sign, with the fee split (what they pay, what the funds pay)."""
        return eligibility.offers_for(current_actor(), resident_id)


@blp.route("/contracts/sign")
class Sign(MethodView):
    @error_codes("CONSENT_REQUIRED", "NOT_INSURED_IN_REGION", "CONTRACT_EXISTS", "PACKAGE_NOT_FOUND",
                 "PACKAGE_NOT_IN_FORCE", "PACKAGE_CONDITION_NOT_MET", "PACKAGE_AGE_NOT_MET", "DUPLICATE_BENEFIT",
                 "TEAM_NOT_FOUND", "TEAM_INACTIVE", "TEAM_FULL", "AGREEMENT_NOT_ACTIVE", "IDEMPOTENCY_KEY_REUSED",
                 "REQUEST_IN_PROGRESS", "RULES_NOT_IN_FORCE")
    @blp.requires(lifecycle.sign)
    @idempotent
    @blp.arguments(SignSchema)
    @blp.response(201, ContractSchema)
    def post(self, data):
        """Sign with a team for a package; the contract waits for the personal share."""
        return lifecycle.sign(current_actor(), **data)


@blp.route("/contracts/<int:contract_id>/view")
class ContractOverview(MethodView):
    @blp.requires(contracts.contract_overview)
    @blp.response(200, ContractOverviewSchema)
    def get(self, contract_id):
        """My contract with package items used and remaining this year, payments and refunds."""
        return contracts.contract_overview(current_actor(), contract_id)


@blp.route("/contracts/<int:contract_id>/payment")
class Payment(MethodView):
    @error_codes("PAYMENT_NOT_REQUIRED", "WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE", "IDEMPOTENCY_KEY_REUSED",
                 "REQUEST_IN_PROGRESS")
    @blp.requires(payments.start_payment)
    @idempotent
    @blp.response(201, PaymentParamsSchema)
    def post(self, contract_id):
        """Create the WeChat Pay order for the personal share; returns wx.requestPayment parameters."""
        return payments.start_payment(current_actor(), registry.wechatpay(), contract_id)


@blp.route("/contracts/<int:contract_id>/payment/check")
class PaymentCheck(MethodView):
    @error_codes("WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE", "WECHATPAY_BAD_SIGNATURE", "WECHATPAY_MALFORMED",
                 "PAYMENT_MISMATCH")
    @blp.requires(payments.check_payment)
    @blp.response(200, PaymentCheckSchema)
    def post(self, contract_id):
        """Call when wx.requestPayment returns: WeChat Pay is asked at once and a paid contract becomes active."""
        return payments.check_payment(current_actor(), registry.wechatpay(), contract_id)


@blp.route("/contracts/<int:contract_id>/renew")
class Renew(MethodView):
    @error_codes("CONSENT_REQUIRED", "RENEWAL_NOT_ALLOWED", "RENEWAL_TOO_EARLY", "CONTRACT_EXISTS", "TEAM_FULL",
                 "AGREEMENT_NOT_ACTIVE", "PACKAGE_NOT_IN_FORCE", "DUPLICATE_BENEFIT")
    @blp.requires(lifecycle.renew)
    @idempotent
    @blp.arguments(RenewSchema)
    @blp.response(201, ContractSchema)
    def post(self, data, contract_id):
        """Renew for the next year with the same team and package."""
        return lifecycle.renew(current_actor(), contract_id, **data)


@blp.route("/contracts/<int:contract_id>/change-team")
class ChangeTeam(MethodView):
    @error_codes("CONTRACT_NOT_ACTIVE", "SAME_TEAM", "TEAM_NOT_FOUND", "TEAM_INACTIVE", "TEAM_FULL",
                 "AGREEMENT_NOT_ACTIVE")
    @blp.requires(lifecycle.change_team)
    @idempotent
    @blp.arguments(ChangeTeamSchema)
    @blp.response(201, ContractSchema)
    def post(self, data, contract_id):
        """Move to another team for the rest of the period, with a reason."""
        return lifecycle.change_team(current_actor(), contract_id, **data)


@blp.route("/contracts/<int:contract_id>/cancel")
class Cancel(MethodView):
    @error_codes("CONTRACT_STATE_INVALID", "WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE")
    @blp.requires(lifecycle.cancel)
    @idempotent
    @blp.arguments(CancelSchema)
    @blp.response(200, ContractSchema)
    def post(self, data, contract_id):
        """Cancel; refunds follow the region's rules (in full before any service)."""
        return lifecycle.cancel(current_actor(), registry.wechatpay(), contract_id, reason=data["reason"])
