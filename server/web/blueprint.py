"""The Blueprint every API module uses: flask-smorest's, with a stricter argument parser and the roles it serves."""
from __future__ import annotations

import json
from collections.abc import Collection

import flask_smorest
from flask.views import MethodView
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser

from server.identity import services as identity
from server.identity.roles import Role
from server.web import auth


class StrictParser(FlaskParser):
    """Unknown query parameters are errors, as unknown body fields are: a typo such as
    `pagee=2` must not silently return page 1. Any body Python's json cannot read is a 400."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except ValueError as error:  # an integer of over 4,300 digits, which json refuses with a bare ValueError
            return self._handle_invalid_json_error(error, req)


class Blueprint(flask_smorest.Blueprint):
    """`serves`: the roles this API is for (the console, the doctor's, the resident's); a view
    is open to those of them its use case allows."""

    ARGUMENTS_PARSER = StrictParser()

    def __init__(self, *args, serves: Collection[Role], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.serves = frozenset(serves)

    def requires(self, use_case):
        """Run the view only for the roles `use_case` declares that this API serves (see `auth.requires`)."""
        return auth.requires(use_case, self.serves)

    def route_logout(self) -> None:
        """`POST /auth/logout`, the same for every API: the caller's tokens stop working."""
        blp = self

        @blp.route("/auth/logout")
        class Logout(MethodView):
            @blp.requires(identity.logout)
            @blp.response(204)
            def post(self):
                """Sign out: every token of my account stops working."""
                identity.logout(auth.current_actor())
