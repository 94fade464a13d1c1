"""Long-term prescriptions (长期处方) in the family doctor's workspace (`/api/doctor/v1`)."""
from server.web.blueprint import Blueprint

blp = Blueprint("doctor_prescriptions", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台：长期处方")
