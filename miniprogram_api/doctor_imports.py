"""Batch import from an institution's own system (`/api/doctor/v1/imports`)."""
from server.web.blueprint import Blueprint

blp = Blueprint("doctor_imports", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台：批量导入")
