"""Imports every domain model so the metadata (and Alembic) sees the whole schema."""
from server.assessment.models import (  # noqa: F401
    Appeal, AssessmentIndicator, AssessmentRun, AssessmentScheme, AssessorAssignment, IndicatorEntry, IndicatorScore,
    InstitutionResult, ManualScore,
)
from server.audit.models import AuditEvent  # noqa: F401
from server.claims.models import Claim  # noqa: F401
from server.contracts.models import Contract, ContractEvent  # noqa: F401
from server.common.idempotency import IdempotencyRecord  # noqa: F401
from server.fhir.models import FhirExportJob  # noqa: F401
from server.identity.models import SignInThrottle, UserAccount, WechatAccount  # noqa: F401
from server.imports.models import ImportBatch  # noqa: F401
from server.integrations.models import AccessToken, MessageLog  # noqa: F401
from server.institutions.models import Agreement, AgreementEvent, Institution, MedicalCommunity  # noqa: F401
from server.packages.models import PackageItem, PackageVersion, ServicePackage  # noqa: F401
from server.payments.models import PaymentOrder, Refund  # noqa: F401
from server.prescriptions.models import Dispensing, Prescription, PrescriptionItem  # noqa: F401
from server.regions.models import Disease, HolidayArrangement, LocalRules, Region  # noqa: F401
from server.residents.models import (  # noqa: F401
    BenefitAlert, BenefitEnrolment, ChronicCondition, FamilyLink, Resident, RosterChange,
)
from server.servicerecords.models import FollowUpCall, Reading, ServiceRecord  # noqa: F401
from server.settlement.models import Disbursement, Settlement, SettlementCheck  # noqa: F401
from server.supervision.models import SupervisionAlert, SupervisionCase  # noqa: F401
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse  # noqa: F401
from server.teams.models import Staff, Team, TeamMembership  # noqa: F401
