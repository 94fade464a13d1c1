"""The resident's account: WeChat sign-in and sign-out, binding one's own identity, inviting family to act for."""
from flask import current_app
from flask.views import MethodView

from server.identity import wechat_signin
from server.identity.roles import Role
from server.identity.schemas import ResidentTokenSchema, WechatLoginSchema
from server.integrations import registry
from server.residents import binding, proxies
from server.residents.schemas import AddFamilySchema, BindSelfSchema, FamilyMemberSchema
from server.web.auth import current_actor, sign_in_attempt, token_service
from server.web.blueprint import Blueprint
from server.web.docs import THROTTLED, error_codes

blp = Blueprint("mp_account", __name__, url_prefix="/api/mp/v1", description="居民端：登录、本人身份与家庭成员",
                serves=(Role.RESIDENT,))


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


blp.route_logout()


@blp.route("/me/identity")
class MyIdentity(MethodView):
    @error_codes("CONSENT_REQUIRED", "NOT_INSURED_IN_REGION", "INSURED_PERSON_NOT_FOUND", "INSURED_NAME_MISMATCH",
                 "IDENTITY_ALREADY_BOUND", "IDENTITY_BOUND_ELSEWHERE", "INSURANCE_PLATFORM_UNAVAILABLE",
                 "WECHAT_CODE_INVALID")
    @blp.requires(binding.bind_self)
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
    @blp.requires(proxies.add_family_member)
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
    @blp.requires(proxies.remove_family_member)
    @blp.response(204)
    def delete(self, resident_id):
        """Stop acting for a family member, or withdraw an invitation; effective at once."""
        proxies.remove_family_member(current_actor(), resident_id)
