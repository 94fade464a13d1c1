"""The family doctor's workspace (`/api/doctor/v1`): my patients, logging services, follow-ups."""
from flask.views import MethodView

from server.contracts import services as contracts
from server.contracts.schemas import ContractDetailSchema, ContractOverviewSchema
from server.identity import services as identity
from server.identity.roles import Role
from server.identity.schemas import LoginSchema, TokenSchema, WechatLoginSchema
from server.integrations import registry
from server.residents import proxies
from server.residents.schemas import ConfirmInPersonSchema, PatientDetailSchema, ProxyConfirmedSchema, ResidentSchema
from server.servicerecords import services as records
from server.servicerecords.schemas import (
    FollowUpCallSchema, HealthRecordSchema, LogServiceSchema, PatientQuerySchema, PatientRowSchema,
    ServiceRecordQuerySchema, ServiceRecordSchema,
)
from server.web.auth import current_actor, sign_in_attempt, token_service
from server.web.blueprint import Blueprint
from server.web.docs import THROTTLED, error_codes
from server.web.schemas import page_schema, split_page
from server.workspace import patients

blp = Blueprint("doctor", __name__, url_prefix="/api/doctor/v1", description="家庭医生工作台", serves=(Role.TEAM_MEMBER,))


@blp.route("/auth/login")
class Login(MethodView):
    @error_codes("LOGIN_FAILED", "TOO_MANY_LOGIN_ATTEMPTS")
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(429, **THROTTLED)
    def post(self, data):
        """Team members sign in with their staff account; any other account fails as a wrong password does."""
        signed = identity.staff_login(token_service(), data["username"], data["password"], sign_in_attempt(),
                                      roles=blp.serves)
        return _token(signed)


blp.route_logout()


def _token(signed: identity.SignedIn) -> dict:
    return {"token": signed.token, "token_type": "Bearer", "expires_in": signed.expires_in,
            "role": signed.actor.role.value, "display_name": signed.display_name}


@blp.route("/auth/wechat-login")
class WechatLogin(MethodView):
    @error_codes("WECHAT_NOT_BOUND", "WECHAT_CODE_INVALID", "WECHAT_CODE_USED", "TOO_MANY_LOGIN_ATTEMPTS")
    @blp.arguments(WechatLoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(429, **THROTTLED)
    def post(self, data):
        """Sign in on the mini-program's doctor side with a wx.login code (after binding WeChat once)."""
        signed = identity.staff_wechat_login(token_service(), registry.wechat(), data["code"], sign_in_attempt(),
                                             roles=blp.serves)
        return _token(signed)


@blp.route("/me/wechat")
class MyWechat(MethodView):
    @error_codes("WECHAT_BOUND_ELSEWHERE", "WECHAT_CODE_INVALID", "WECHAT_CODE_USED")
    @blp.requires(identity.bind_staff_wechat)
    @blp.arguments(WechatLoginSchema)
    @blp.response(204)
    def put(self, data):
        """Bind my WeChat to my staff account, for signing in on the mini-program's doctor side."""
        identity.bind_staff_wechat(current_actor(), registry.wechat(), data["code"])


@blp.route("/patients")
class Patients(MethodView):
    @blp.requires(patients.list_patients)
    @blp.arguments(PatientQuerySchema, location="query")
    @blp.response(200, page_schema(PatientRowSchema))
    def get(self, args):
        """My teams' signed patients: follow-ups this year, next due, control status; filterable."""
        page, filters = split_page(args)
        return patients.list_patients(current_actor(), page, patients.PatientFilters(**filters))


@blp.route("/patients/<int:resident_id>")
class PatientById(MethodView):
    @blp.requires(patients.patient_detail)
    @blp.response(200, PatientDetailSchema)
    def get(self, resident_id):
        """A patient of my teams (masked), with open duplicate-benefit alerts; the read is audited."""
        return patients.patient_detail(current_actor(), resident_id)


@blp.route("/patients/<int:resident_id>/health-record")
class HealthRecord(MethodView):
    @error_codes("DATE_IN_FUTURE", "HEALTH_RECORD_DATES")
    @blp.requires(records.update_health_record)
    @blp.arguments(HealthRecordSchema)
    @blp.response(200, ResidentSchema)
    def put(self, data, resident_id):
        """Record that the patient's health record was created or brought up to date."""
        return records.update_health_record(current_actor(), resident_id, **data)


@blp.route("/contracts/<int:contract_id>")
class ContractById(MethodView):
    @blp.requires(contracts.get_contract)
    @blp.response(200, ContractDetailSchema)
    def get(self, contract_id):
        """One contract of my teams with its history."""
        return contracts.get_contract(current_actor(), contract_id)


@blp.route("/contracts/<int:contract_id>/view")
class ContractOverview(MethodView):
    @blp.requires(contracts.contract_overview)
    @blp.response(200, ContractOverviewSchema)
    def get(self, contract_id):
        """A patient's contract with package items used and remaining this year, payments and refunds."""
        return contracts.contract_overview(current_actor(), contract_id)


@blp.route("/service-records")
class ServiceRecords(MethodView):
    @blp.requires(records.history)
    @blp.arguments(ServiceRecordQuerySchema, location="query")
    @blp.response(200, page_schema(ServiceRecordSchema))
    def get(self, args):
        """Services my teams delivered, with readings: a patient's history over time."""
        page, filters = split_page(args)
        return records.history(current_actor(), page, **filters)

    @error_codes("READING_IMPLAUSIBLE", "SERVICE_IN_FUTURE", "SERVICE_BEFORE_CONTRACT", "CONTRACT_NOT_ACTIVE_ON_DATE",
                 "SERVICE_BEFORE_ACTIVATION", "ITEM_NOT_IN_PACKAGE", "YEARLY_QUANTITY_EXCEEDED", "DUPLICATE_SERVICE",
                 "NOT_TEAM_MEMBER")
    @blp.requires(records.log_service)
    @blp.arguments(LogServiceSchema)
    @blp.response(201, ServiceRecordSchema)
    def post(self, data):
        """Log a delivered package item with its readings; the resident is asked to confirm it."""
        return records.log_service(current_actor(), data)


@blp.route("/follow-up-calls")
class FollowUpCalls(MethodView):
    @error_codes("CALL_IN_FUTURE", "CALL_NOT_REACHED", "ALREADY_ANSWERED", "SURVEY_NOT_CONFIGURED", "NOT_TEAM_MEMBER")
    @blp.requires(records.record_call)
    @blp.arguments(FollowUpCallSchema)
    @blp.response(201, FollowUpCallSchema)
    def post(self, data):
        """Record a phone follow-up, with the satisfaction answers the resident gave on the phone."""
        return records.record_call(current_actor(), data)


@blp.route("/proxy-confirmations")
class ProxyConfirmations(MethodView):
    @error_codes("PERSON_MUST_ACCEPT", "RULES_NOT_IN_FORCE")
    @blp.requires(proxies.confirm_in_person)
    @blp.arguments(ConfirmInPersonSchema)
    @blp.response(201, ProxyConfirmedSchema)
    def post(self, data):
        """Confirm face to face, by the code on the resident's phone, that they may act for the person (or child)."""
        return proxies.confirm_in_person(current_actor(), data["invitation_code"], data["documents_seen"])
