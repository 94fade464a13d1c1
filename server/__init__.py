"""The Jiayi platform: the app factory builds a Flask app from settings, binding everything."""
from __future__ import annotations

import dataclasses
import json
import os
import sqlalchemy as sa
from flask import Flask, jsonify, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from server import logging_setup
from server.common import pii, sqlite
from server.config import Settings, check_production_safety, load_settings
from flask_smorest import Api

from server.extensions import db, migrate
from server.identity.tokens import TokenService
from server.integrations import registry
from server.web import access_log, headers, input_guard
from server.web import errors as web_errors
from server.web.docs import COMMON_CODES
from server.web.schemas import ErrorSchema, localise_messages

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from `settings`, or from the environment when none are given (tests pass theirs)."""
    # Installed packages would otherwise keep instance data inside the (read-only) venv.
    app = Flask(__name__, instance_relative_config=True, instance_path=os.environ.get("JIAYI_INSTANCE_PATH"))
    os.makedirs(app.instance_path, exist_ok=True)
    settings = settings or load_settings(app.instance_path)
    check_production_safety(settings)
    settings = _with_development_keys(settings, app.instance_path)

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=input_guard.MAX_JSON_BYTES,
        API_TITLE="家医 Jiayi",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/static/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},  # no call to swagger.io: the docs stay on this host
        API_SPEC_OPTIONS={
            "info": {"description": "家庭医生医保签约服务平台接口。错误统一为 {code, message, details}；"
                                    "各接口可能返回的业务错误码见 x-error-codes，通用错误码："
                                    + "、".join(COMMON_CODES) + "。" + input_guard.LIMITS},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            }},
        },
        JIAYI_SETTINGS=settings,
    )

    app.json.ensure_ascii = False  # Chinese messages stay readable on the wire
    logging_setup.configure(json=settings.log_json)
    pii.configure(settings.data_key)
    localise_messages()
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    import server.models  # noqa: F401  (the whole schema, for Alembic and relationships)

    db.init_app(app)
    with app.app_context():
        sqlite.harden(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    api = Api()
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)
    input_guard.install(app, api)  # before the blueprints: their routes and documents depend on it
    app.extensions["jiayi.tokens"] = TokenService(settings.secret_key, settings.token_ttl_seconds)
    registry.init_app(app, settings)

    _register_blueprints(app, api)
    _register_health(app)
    _register_swagger_assets(app)
    web_errors.register(app)  # after the Api, so our shape replaces flask-smorest's
    access_log.register(app)
    headers.register(app)

    from server.cli import register_commands
    register_commands(app)
    return app


def _with_development_keys(settings: Settings, instance_path: str) -> Settings:
    """Outside production, a missing WeChat Pay key means: use the sandbox's key pair."""
    if settings.env == "production" or settings.wechatpay_private_key_path:
        return settings
    from server.sandbox import keys
    dev = keys.ensure(os.path.join(instance_path, "sandbox-keys"))
    return dataclasses.replace(
        settings, wechatpay_private_key_path=str(dev.merchant_private_key),
        wechatpay_cert_serial=dev.merchant_serial(), wechatpay_public_key_path=str(dev.platform_public_key),
        wechatpay_public_key_id=dev.platform_public_key_id)


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # Keep Chinese readable in SQLite's JSON text (PostgreSQL's JSONB stores it natively).
        return {"json_serializer": lambda value: json.dumps(value, ensure_ascii=False)}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10}


def _register_blueprints(app: Flask, api: Api) -> None:
    from admin import blueprints as admin_blueprints
    from miniprogram_api import blueprints as mp_blueprints
    from miniprogram_api import plain_blueprints
    for blueprint in (*mp_blueprints(), *admin_blueprints()):
        api.register_blueprint(blueprint)
    for blueprint in plain_blueprints():
        app.register_blueprint(blueprint)


def _register_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """Liveness: the process answers; no database touched."""
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        """Readiness: the database answers a trivial query."""
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            return jsonify(code="DB_UNAVAILABLE", message="数据库不可用", details={}), 503
        return jsonify(status="ready")


def _register_swagger_assets(app: Flask) -> None:
    # Served from the installed swagger-ui-bundle, so the docs work on an offline network.
    from swagger_ui_bundle import swagger_ui_path

    @app.get("/api/docs/static/<path:filename>")
    def swagger_assets(filename: str):
        return send_from_directory(swagger_ui_path, filename)
