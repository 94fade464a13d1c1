"""The resident's way to a contract: WeChat sign-in, identity, family, teams, packages, signing, paying."""
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.contracts import eligibility, services as contracts, signing
from server.contracts.schemas import (
    CancelSchema, ChangeTeamSchema, ContractSchema, ContractViewSchema, OfferSchema, PaymentCheckSchema,
    PaymentParamsSchema, RenewSchema, SignSchema,
)
from server.identity import services as identity, wechat_signin
from server.identity.roles import Role
from server.integrations import registry
from server.payments import services as payments
from server.residents import binding, proxies
from server.residents.schemas import AddFamilySchema, BindSelfSchema, FamilyMemberSchema
from server.teams import services as teams
from server.teams.schemas import TeamBrowseArgsSchema, TeamCardSchema
from server.web.auth import current_actor, requires, sign_in_attempt, token_service
from server.web.blueprint import Blueprint
from server.web.docs import THROTTLED, error_codes
from server.web.idempotent import idempotent
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("mp_signing", __name__, url_prefix="/api/mp/v1", description="居民端：登录、绑定与签约")


class WechatLoginSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128),
                         metadata={"description": "wx.login 返回的 code"})


class ResidentTokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    account_id = fields.Integer()
    bound = fields.Boolean(metadata={"description": "是否已绑定本人身份"})


class TeamQuerySchema(PageArgsSchema, TeamBrowseArgsSchema):
    pass


@blp.route("/auth/wechat-login")
class WechatLogin(MethodView):
    @error_codes("WECHAT_CODE_INVALID", "WECHAT_CODE_USED", "WECHAT_RATE_LIMITED", "WECHAT_BUSY", "WECHAT_UNAVAILABLE",
                 "REGION_NOT_CONFIGURED", "TOO_MANY_LOGIN_ATTEMPTS")
    @blp.arguments(WechatLoginSchema)
    @blp.response(200, ResidentTokenSchema)
    @blp.alt_response(429, **THROTTLED)
    def post(self, data):
        """Sign in with the code from wx.login; returns a bearer token."""
        session = wechat_signin.sign_in(registry.wechat(), token_service(), data["code"], sign_in_attempt())
        return {"token": session.token, "token_type": "Bearer", "expires_in": session.expires_in,
                "account_id": session.account_id, "bound": session.bound}


@blp.route("/auth/logout")
class Logout(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(204)
    def post(self):
        """Sign out: every token of my WeChat account stops working."""
        identity.logout(current_actor())


@blp.route("/me/identity")
class MyIdentity(MethodView):
    @error_codes("CONSENT_REQUIRED", "NOT_INSURED_IN_REGION", "INSURED_PERSON_NOT_FOUND", "INSURED_NAME_MISMATCH",
                 "IDENTITY_ALREADY_BOUND", "IDENTITY_BOUND_ELSEWHERE", "INSURANCE_PLATFORM_UNAVAILABLE",
                 "WECHAT_CODE_INVALID")
    @requires(Role.RESIDENT)
    @blp.arguments(BindSelfSchema)
    @blp.response(201, FamilyMemberSchema)
    def post(self, data):
        """Bind my real identity (checked with the insurance platform) and, optionally, my phone."""
        region_code = current_app.config["JIAYI_SETTINGS"].region_code
        verified = binding.verify_with_platform(registry.insurance(), region_code, name=data["name"],
                                                id_number=data["id_number"], consent=data["consent"])
        phone = registry.wechat().phone_number(data["phone_code"]) if data["phone_code"] else None
        return binding.bind_self(current_actor(), verified, phone=phone)


@blp.route("/me/family")
class MyFamily(MethodView):
    @error_codes("CONSENT_REQUIRED", "IDENTITY_NOT_BOUND", "FAMILY_MEMBER_EXISTS", "PROXY_LIMIT_REACHED",
                 "NOT_INSURED_IN_REGION", "INSURED_PERSON_NOT_FOUND", "INSURED_NAME_MISMATCH", "RULES_NOT_IN_FORCE")
    @requires(Role.RESIDENT)
    @blp.arguments(AddFamilySchema)
    @blp.response(201, FamilyMemberSchema)
    def post(self, data):
        """Invite a family member to act for: pending until they accept or a team member confirms in person."""
        settings = current_app.config["JIAYI_SETTINGS"]
        return proxies.add_family_member(current_actor(), registry.insurance(), settings.region_code, **data,
                                         wechat=registry.wechat(), template_id=settings.wechat_template_proxy)


@blp.route("/me/family/<int:resident_id>")
class MyFamilyMember(MethodView):
    @error_codes("CANNOT_REMOVE_SELF")
    @requires(Role.RESIDENT)
    @blp.response(204)
    def delete(self, resident_id):
        """Stop acting for a family member, or withdraw an invitation; effective at once."""
        proxies.remove_family_member(current_actor(), resident_id)


@blp.route("/teams")
class Teams(MethodView):
    @requires(Role.RESIDENT)
    @blp.arguments(TeamQuerySchema, location="query")
    @blp.response(200, page_schema(TeamCardSchema))
    def get(self, args):
        """Teams to sign with, nearest first when lat/lng are given, with places left."""
        page, filters = split_page(args)
        return teams.browse_teams(current_actor(), page, **filters)


@blp.route("/residents/<int:resident_id>/offers")
class Offers(MethodView):
    @error_codes("RULES_NOT_IN_FORCE")
    @requires(Role.RESIDENT)
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
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(SignSchema)
    @blp.response(201, ContractSchema)
    def post(self, data):
        """Sign with a team for a package; the contract waits for the personal share."""
        return signing.sign(current_actor(), **data)


@blp.route("/contracts/<int:contract_id>/view")
class ContractView(MethodView):
    @requires(Role.RESIDENT)
    @blp.response(200, ContractViewSchema)
    def get(self, contract_id):
        """My contract with package items used and remaining this year, payments and refunds."""
        return contracts.contract_view(current_actor(), contract_id)


@blp.route("/contracts/<int:contract_id>/payment")
class Payment(MethodView):
    @error_codes("PAYMENT_NOT_REQUIRED", "WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE", "IDEMPOTENCY_KEY_REUSED",
                 "REQUEST_IN_PROGRESS")
    @requires(Role.RESIDENT)
    @idempotent
    @blp.response(201, PaymentParamsSchema)
    def post(self, contract_id):
        """Create the WeChat Pay order for the personal share; returns wx.requestPayment parameters."""
        return payments.start_payment(current_actor(), registry.wechatpay(), contract_id)


@blp.route("/contracts/<int:contract_id>/payment/check")
class PaymentCheck(MethodView):
    @error_codes("WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE", "WECHATPAY_BAD_SIGNATURE", "WECHATPAY_MALFORMED",
                 "PAYMENT_MISMATCH")
    @requires(Role.RESIDENT)
    @blp.response(200, PaymentCheckSchema)
    def post(self, contract_id):
        """Call when wx.requestPayment returns: WeChat Pay is asked at once and a paid contract becomes active."""
        return payments.check_payment(current_actor(), registry.wechatpay(), contract_id)


@blp.route("/contracts/<int:contract_id>/renew")
class Renew(MethodView):
    @error_codes("CONSENT_REQUIRED", "RENEWAL_NOT_ALLOWED", "RENEWAL_TOO_EARLY", "CONTRACT_EXISTS", "TEAM_FULL",
                 "AGREEMENT_NOT_ACTIVE", "PACKAGE_NOT_IN_FORCE", "DUPLICATE_BENEFIT")
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(RenewSchema)
    @blp.response(201, ContractSchema)
    def post(self, data, contract_id):
        """Renew for the next year with the same team and package."""
        return signing.renew(current_actor(), contract_id, **data)


@blp.route("/contracts/<int:contract_id>/change-team")
class ChangeTeam(MethodView):
    @error_codes("CONTRACT_NOT_ACTIVE", "SAME_TEAM", "TEAM_NOT_FOUND", "TEAM_INACTIVE", "TEAM_FULL",
                 "AGREEMENT_NOT_ACTIVE")
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(ChangeTeamSchema)
    @blp.response(201, ContractSchema)
    def post(self, data, contract_id):
        """Move to another team for the rest of the period, with a reason."""
        return signing.change_team(current_actor(), contract_id, **data)


@blp.route("/contracts/<int:contract_id>/cancel")
class Cancel(MethodView):
    @error_codes("CONTRACT_STATE_INVALID", "WECHATPAY_ERROR", "WECHATPAY_UNAVAILABLE")
    @requires(Role.RESIDENT)
    @idempotent
    @blp.arguments(CancelSchema)
    @blp.response(200, ContractSchema)
    def post(self, data, contract_id):
        """Cancel; refunds follow the region's rules (in full before any service)."""
        return signing.cancel(current_actor(), registry.wechatpay(), contract_id, reason=data["reason"])
