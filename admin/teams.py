"""Teams, staff and memberships (人员管理), managed by each institution."""
from flask.views import MethodView
from server.web.blueprint import Blueprint

from server.identity.roles import ADMIN_ROLES
from server.teams import services
from server.teams.schemas import MembershipEndSchema, MembershipSchema, NewStaffSchema, StaffSchema, TeamSchema
from server.web.auth import current_actor
from server.web.schemas import PageArgsSchema, page_schema, split_page

blp = Blueprint("admin_teams", __name__, url_prefix="/api/admin/v1", description="团队与人员管理", serves=ADMIN_ROLES)


@blp.route("/teams")
class Teams(MethodView):
    @blp.requires(services.list_teams)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(TeamSchema))
    def get(self, args):
        """Teams in scope."""
        page, _ = split_page(args)
        return services.list_teams(current_actor(), page)

    @blp.requires(services.create_team)
    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    def post(self, data):
        """Create a family-doctor team in the manager's institution."""
        return services.create_team(current_actor(), data)


@blp.route("/teams/<int:team_id>")
class TeamById(MethodView):
    @blp.requires(services.get_team)
    @blp.response(200, TeamSchema)
    def get(self, team_id):
        """One team."""
        return services.get_team(current_actor(), team_id)


@blp.route("/teams/<int:team_id>/members")
class TeamMembers(MethodView):
    @blp.requires(services.team_members)
    @blp.response(200, MembershipSchema(many=True))
    def get(self, team_id):
        """The team's memberships, past and current."""
        return services.team_members(current_actor(), team_id)

    @blp.requires(services.add_member)
    @blp.arguments(MembershipSchema)
    @blp.response(201, MembershipSchema)
    def post(self, data, team_id):
        """Add a staff member of the institution to the team."""
        return services.add_member(current_actor(), team_id, data)


@blp.route("/teams/<int:team_id>/members/<int:membership_id>/end")
class TeamMemberEnd(MethodView):
    @blp.requires(services.end_membership)
    @blp.arguments(MembershipEndSchema)
    @blp.response(200, MembershipSchema)
    def post(self, data, team_id, membership_id):
        """End a membership on a date."""
        return services.end_membership(current_actor(), team_id, membership_id, data["left_on"])


@blp.route("/staff")
class StaffList(MethodView):
    @blp.requires(services.list_staff)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(StaffSchema))
    def get(self, args):
        """Medical staff in scope (phones masked)."""
        page, _ = split_page(args)
        return services.list_staff(current_actor(), page)

    @blp.requires(services.create_staff)
    @blp.arguments(NewStaffSchema)
    @blp.response(201, StaffSchema)
    def post(self, data):
        """Register a staff member of the manager's institution."""
        return services.create_staff(current_actor(), data)
