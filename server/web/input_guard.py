"""Hostile input stops at the edge, before any work is done: one guard for each kind of input.

- Integers: every marshmallow `Integer` (body and query, whichever schema declares it) and
  every `<int:…>` path parameter stays within PostgreSQL's BIGINT. Beyond it is 422
  VALIDATION_ERROR naming the field, never a database error; the OpenAPI document shows
  the bounds.
- Text: every marshmallow `String` refuses control characters (server.common.text);
  `FreeText` also takes line breaks and tabs.
- JSON nested deeper than any request needs is refused (400 JSON_TOO_DEEP) before sign-in
  and before parsing, because Python's parser recurses once per level. A body over
  `MAX_JSON_BYTES` (the app's MAX_CONTENT_LENGTH; the import endpoint allows its files more)
  is 413.

The field guards are installed on marshmallow's field classes rather than on each schema, so
a schema written tomorrow cannot leave them out.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import Flask, request
from flask_smorest import Api
from marshmallow import ValidationError, fields
from werkzeug.routing import IntegerConverter

from server.common.text import control_character_problem
from server.errors import DomainError, ValidationFailed
from server.web.schemas import FreeText

BIGINT_MIN, BIGINT_MAX = -2**63, 2**63 - 1
OUT_OF_RANGE = f"数值超出范围（{BIGINT_MIN} 到 {BIGINT_MAX}）"
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 2**20
# The limits as the OpenAPI document's description states them to clients.
LIMITS = (f"文本字段不得含控制字符（备注、原因、依据等自由文本可含换行和制表符）；整数在 int64 范围内；"
          f"JSON 请求体不超过 {MAX_JSON_BYTES // 2**20} MiB，嵌套不超过 {MAX_JSON_DEPTH} 层。")

_load_integer = fields.Integer._validated
_load_string = fields.String._deserialize


def install(app: Flask, api: Api) -> None:
    """Put every guard in place (idempotent); called by the app factory before the blueprints."""
    fields.Integer._validated = _integer_within_bigint
    fields.String._deserialize = _string_without_control_characters
    api.ma_plugin.converter.add_attribute_function(bigint_bounds)
    app.url_map.converters["int"] = PathInteger
    api.register_converter(PathInteger, _path_integer_schema)
    app.url_value_preprocessor(_path_integers_within_bigint)
    app.before_request(_refuse_deep_json)


# --- Schema fields ---------------------------------------------------------------------------------

def _integer_within_bigint(field: fields.Integer, value):
    number = _load_integer(field, value)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise ValidationError(OUT_OF_RANGE)
    return number


def _string_without_control_characters(field: fields.String, value, attr, data, **kwargs) -> str:
    text = _load_string(field, value, attr, data, **kwargs)
    problem = control_character_problem(text, free_text=isinstance(field, FreeText))
    if problem:
        raise ValidationError(problem)
    return text


def bigint_bounds(self, field, ret: dict, **kwargs) -> dict:
    """apispec attribute function: an integer is int64, within BIGINT unless its own range is narrower."""
    if not isinstance(field, fields.Integer):
        return {}
    return {"format": ret.get("format", "int64"), "minimum": ret.get("minimum", BIGINT_MIN),
            "maximum": ret.get("maximum", BIGINT_MAX)}


# --- Path parameters -------------------------------------------------------------------------------

class PathInteger(IntegerConverter):
    """`<int:…>`: what is no unsigned number ("abc", "-1", "1e3") matches no route, so 404; a number
    past BIGINT is matched and then refused with 422 by `_path_integers_within_bigint`."""

    def to_python(self, value: str) -> int:
        # Python refuses to convert numbers of over 4,300 digits; 20 digits are past BIGINT already.
        digits = value.lstrip("0") or "0"
        return super().to_python(digits[:20])


def _path_integer_schema(converter: PathInteger) -> dict:
    return {"type": "integer", "format": "int64", "minimum": max(converter.min or 0, 0),
            "maximum": BIGINT_MAX if converter.max is None else converter.max}


def _path_integers_within_bigint(_endpoint, values: dict | None) -> None:
    too_large = sorted(name for name, value in (values or {}).items()
                       if isinstance(value, int) and value > BIGINT_MAX)
    if too_large:
        raise ValidationFailed(details={"fields": {name: [OUT_OF_RANGE] for name in too_large}})


# --- JSON bodies -----------------------------------------------------------------------------------

# A string runs to its closing quote or, left open, to the end: one pass, no backtracking.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply `text` nests arrays and objects, counting brackets outside strings (linear, never recursive)."""
    brackets = _JSON_BRACKET.findall(_JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _refuse_deep_json() -> None:
    if not request.is_json:
        return
    body = request.get_data(cache=True)  # past MAX_CONTENT_LENGTH this is a 413
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads reads bytes
    except UnicodeDecodeError:
        return  # no JSON at all: the parser refuses it
    if json_depth(text) > MAX_JSON_DEPTH:
        raise DomainError(f"JSON 嵌套不能超过{MAX_JSON_DEPTH}层", code="JSON_TOO_DEEP")
