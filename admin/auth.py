"""Staff sign-in and who-am-I."""
from flask.views import MethodView

from server.identity import services as identity
from server.identity.roles import STAFF_ROLES
from server.identity.schemas import LoginSchema, StaffMeSchema, TokenSchema
from server.web.auth import current_actor, sign_in_attempt, token_service
from server.web.blueprint import Blueprint
from server.web.docs import THROTTLED, error_codes

blp = Blueprint("admin_auth", __name__, url_prefix="/api/admin/v1", description="工作人员登录", serves=STAFF_ROLES)


@blp.route("/auth/login")
class Login(MethodView):
    @error_codes("LOGIN_FAILED", "TOO_MANY_LOGIN_ATTEMPTS")
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(429, **THROTTLED)
    def post(self, data):
        """Sign in with username and password; returns a bearer token."""
        signed = identity.staff_login(token_service(), data["username"], data["password"], sign_in_attempt(),
                                      roles=blp.serves)
        return {"token": signed.token, "token_type": "Bearer", "expires_in": signed.expires_in,
                "role": signed.actor.role.value, "display_name": signed.display_name}


blp.route_logout()


@blp.route("/me")
class Me(MethodView):
    @blp.requires(identity.staff_profile)
    @blp.response(200, StaffMeSchema)
    def get(self):
        """The signed-in staff member's role and scope."""
        return identity.staff_profile(current_actor())
