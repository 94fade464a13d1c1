"""The person acted for (`/api/mp/v1/me/proxies-on-me`): who may act for me, accepting and ending it."""
from flask.views import MethodView

from server.identity.roles import Role
from server.residents import proxies
from server.residents.schemas import ProxyOnMeSchema
from server.web.auth import current_actor
from server.web.blueprint import Blueprint
from server.web.docs import error_codes

blp = Blueprint("mp_proxies", __name__, url_prefix="/api/mp/v1", description="居民端：亲情代办授权",
                serves=(Role.RESIDENT,))


@blp.route("/me/proxies-on-me")
class ProxiesOnMe(MethodView):
    @error_codes("IDENTITY_NOT_BOUND", "RULES_NOT_IN_FORCE")
    @blp.requires(proxies.proxies_on_me)
    @blp.response(200, ProxyOnMeSchema(many=True))
    def get(self):
        """Everyone who acts for me or asks to (pending invitations), across all accounts."""
        return proxies.proxies_on_me(current_actor())


@blp.route("/me/proxies-on-me/<int:link_id>/accept")
class AcceptProxy(MethodView):
    @error_codes("IDENTITY_NOT_BOUND", "INVITATION_EXPIRED", "GUARDIAN_NEEDS_IN_PERSON_CHECK", "RULES_NOT_IN_FORCE")
    @blp.requires(proxies.accept)
    @blp.response(200, ProxyOnMeSchema)
    def post(self, link_id):
        """Consent to an invitation addressed to my own identity: the holder may act for me from now on."""
        return proxies.accept(current_actor(), link_id)


@blp.route("/me/proxies-on-me/<int:link_id>")
class ProxyOnMe(MethodView):
    @error_codes("IDENTITY_NOT_BOUND")
    @blp.requires(proxies.end_on_me)
    @blp.response(204)
    def delete(self, link_id):
        """Decline an invitation or end a proxy on me; the holder loses access at once."""
        proxies.end_on_me(current_actor(), link_id)
