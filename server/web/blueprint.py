"""The Blueprint every API module uses: flask-smorest's, with a stricter argument parser."""
from __future__ import annotations

import json

import flask_smorest
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser


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
    ARGUMENTS_PARSER = StrictParser()
