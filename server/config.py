"""Configuration from environment variables, with safe development defaults.

Production (``JIAYI_ENV=production``) refuses to start while any secret still has its
development value, so a forgotten variable fails loudly instead of leaking data.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEV_SECRET_KEY = "dev-secret-key-not-for-production"
# 32 bytes, base64: only ever used outside production.
DEV_DATA_KEY = "ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE="
DEV_WECHAT_SECRET = "dev-wechat-secret"
DEV_WECHATPAY_APIV3_KEY = "dev-apiv3-key-0123456789abcdefgh"


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or incomplete for the environment."""


@dataclass(frozen=True)
class Settings:
    env: str
    region_code: str
    secret_key: str
    data_key: str
    database_url: str
    log_json: bool
    token_ttl_seconds: int
    wechat_appid: str
    wechat_secret: str
    wechat_api_base: str
    wechat_template_renewal: str
    wechat_template_survey: str
    wechat_template_proxy: str
    wechatpay_mchid: str
    wechatpay_private_key_path: str
    wechatpay_cert_serial: str
    wechatpay_apiv3_key: str
    wechatpay_public_key_path: str
    wechatpay_public_key_id: str
    wechatpay_api_base: str
    wechatpay_notify_url: str
    insurance_api_base: str
    insurance_fixmedins_code: str
    insurance_opter_no: str
    insurance_fixmedins_name: str
    insurance_opter_name: str
    redis_url: str
    exchange_drop_folder: str


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def load_settings(instance_path: str) -> Settings:
    """Read the settings from the environment; the default database is a SQLite file."""
    default_db = "sqlite:///" + str(Path(instance_path) / "jiayi.sqlite")
    return Settings(
        env=_env("JIAYI_ENV", "development"),
        # The pooling region this deployment serves: residents signing in belong to it.
        region_code=_env("JIAYI_REGION_CODE", "350600"),
        secret_key=_env("SECRET_KEY", DEV_SECRET_KEY),
        data_key=_env("DATA_ENCRYPTION_KEY", DEV_DATA_KEY),
        database_url=_normalise_db_url(_env("DATABASE_URL", default_db)),
        log_json=_env("LOG_FORMAT", "console") == "json",
        token_ttl_seconds=int(_env("TOKEN_TTL_SECONDS", str(12 * 3600))),
        wechat_appid=_env("WECHAT_APPID", "wx0000000000000000"),
        wechat_secret=_env("WECHAT_SECRET", DEV_WECHAT_SECRET),
        wechat_api_base=_env("WECHAT_API_BASE", "http://127.0.0.1:5100"),
        # Subscribe-message templates chosen in the mini-program console.
        wechat_template_renewal=_env("WECHAT_TEMPLATE_RENEWAL", "renewal-reminder-template"),
        wechat_template_survey=_env("WECHAT_TEMPLATE_SURVEY", "survey-invitation-template"),
        wechat_template_proxy=_env("WECHAT_TEMPLATE_PROXY", "proxy-invitation-template"),
        wechatpay_mchid=_env("WECHATPAY_MCHID", "1900000001"),
        wechatpay_private_key_path=_env("WECHATPAY_PRIVATE_KEY_PATH", ""),
        wechatpay_cert_serial=_env("WECHATPAY_CERT_SERIAL", ""),
        wechatpay_apiv3_key=_env("WECHATPAY_APIV3_KEY", DEV_WECHATPAY_APIV3_KEY),
        wechatpay_public_key_path=_env("WECHATPAY_PUBLIC_KEY_PATH", ""),
        wechatpay_public_key_id=_env("WECHATPAY_PUBLIC_KEY_ID", ""),
        wechatpay_api_base=_env("WECHATPAY_API_BASE", "http://127.0.0.1:5100"),
        wechatpay_notify_url=_env("WECHATPAY_NOTIFY_URL", "http://127.0.0.1:5000/api/mp/v1/payments/notify"),
        insurance_api_base=_env("INSURANCE_API_BASE", "http://127.0.0.1:5100"),
        insurance_fixmedins_code=_env("INSURANCE_FIXMEDINS_CODE", "H35060000001"),
        insurance_opter_no=_env("INSURANCE_OPTER_NO", "JIAYI"),
        insurance_fixmedins_name=_env("INSURANCE_FIXMEDINS_NAME", "家医签约服务平台"),
        insurance_opter_name=_env("INSURANCE_OPTER_NAME", "家医平台"),
        redis_url=_env("REDIS_URL", ""),
        # Where the bureau's core system drops its exports (<folder>/<region code>/<kind>….csv); empty: no job.
        exchange_drop_folder=_env("EXCHANGE_DROP_FOLDER", ""),
    )


def _normalise_db_url(url: str) -> str:
    # Hosting panels hand out postgres:// URLs; we drive PostgreSQL through psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def check_production_safety(settings: Settings) -> None:
    """Refuse to run in production with any development secret or the SQLite default."""
    if settings.env != "production":
        return
    problems = []
    if settings.secret_key == DEV_SECRET_KEY:
        problems.append("SECRET_KEY")
    if settings.data_key == DEV_DATA_KEY:
        problems.append("DATA_ENCRYPTION_KEY")
    if settings.wechat_secret == DEV_WECHAT_SECRET:
        problems.append("WECHAT_SECRET")
    if settings.wechatpay_apiv3_key == DEV_WECHATPAY_APIV3_KEY:
        problems.append("WECHATPAY_APIV3_KEY")
    if not settings.wechatpay_private_key_path or not settings.wechatpay_public_key_path:
        problems.append("WECHATPAY_PRIVATE_KEY_PATH / WECHATPAY_PUBLIC_KEY_PATH")
    if settings.database_url.startswith("sqlite"):
        problems.append("DATABASE_URL (SQLite is for development only)")
    if problems:
        raise ConfigError("production refuses development values for: " + ", ".join(problems))
