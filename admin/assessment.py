"""Assessment schemes (考核方案) for the bureau; assessors and institutions read them."""
from flask.views import MethodView

from server.assessment import schemes
from server.assessment.schemas import NewSchemeSchema, SchemeSchema
from server.identity.roles import ADMIN_ROLES, Role
from server.web.auth import current_actor, requires
from server.web.blueprint import Blueprint
from server.web.docs import error_codes
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_assessment", __name__, url_prefix="/api/admin/v1", description="考核方案")


@blp.route("/assessment/schemes")
class Schemes(MethodView):
    @requires(*ADMIN_ROLES)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(SchemeSchema))
    def get(self, args):
        """The region's schemes, newest year first."""
        page, _ = split_page(args)
        return schemes.list_schemes(current_actor(), page)

    @requires(Role.BUREAU_STAFF)
    @blp.arguments(NewSchemeSchema)
    @blp.response(201, SchemeSchema)
    def post(self, data):
        """Start a year's scheme from the default (every basic indicator of the annex) or a copy."""
        return schemes.create_scheme(current_actor(), **data)


@blp.route("/assessment/schemes/<int:scheme_id>")
class SchemeById(MethodView):
    @requires(*ADMIN_ROLES)
    @blp.response(200, SchemeSchema)
    def get(self, scheme_id):
        """One scheme with its indicators, points and scoring rules."""
        return schemes.get_scheme(current_actor(), scheme_id)

    @error_codes("SCHEME_LOCKED")
    @requires(Role.BUREAU_STAFF)
    @blp.arguments(SchemeSchema)
    @blp.response(200, SchemeSchema)
    def put(self, data, scheme_id):
        """Replace the scheme's indicators (they must total 100 and cover the six groups)."""
        return schemes.replace_indicators(current_actor(), scheme_id, data)
