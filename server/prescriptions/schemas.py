"""Schemas for long-term prescriptions: what residents and doctors see, and what doctors send."""
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.prescriptions.models import PrescriptionStatus
from server.web.schemas import DecimalString, FreeText, PageArgsSchema, StrictBoolean

# ---------------------------------------------------------------- output


class PrescriptionItemSchema(Schema):
    id = fields.Integer(metadata={"description": "取药登记时引用的处方药品 ID"})
    drug_code = fields.String()
    drug_name = fields.String()
    drug_class = fields.String(metadata={"description": "药品类别编码"})
    specification = fields.String()
    dosage = fields.String()
    frequency = fields.String()
    quantity = DecimalString()
    unit = fields.String()


class DispensingSchema(Schema):
    id = fields.Integer()
    prescription_item_id = fields.Integer()
    dispensed_on = fields.Date()
    quantity = DecimalString()


class PrescriptionSchema(Schema):
    id = fields.Integer()
    resident_id = fields.Integer()
    issued_on = fields.Date()
    weeks = fields.Integer()
    status = fields.Enum(PrescriptionStatus, by_value=True)
    source_institution_name = fields.String(allow_none=True, metadata={"description": "接续的上级医疗机构"})
    source_prescription_no = fields.String(allow_none=True)
    items = fields.List(fields.Nested(PrescriptionItemSchema))
    dispensings = fields.List(fields.Nested(DispensingSchema))
    next_refill_on = fields.Date(allow_none=True, metadata={"description": "预计下次取药日期"})


class DoctorDispensingSchema(DispensingSchema):
    staff_id = fields.Integer(allow_none=True)


class DoctorPrescriptionSchema(PrescriptionSchema):
    """A prescription as the team sees it: who issued it, under which contract, on what assessment."""

    contract_id = fields.Integer()
    team_id = fields.Integer()
    prescriber_staff_id = fields.Integer()
    stable_patient = fields.Boolean(metadata={"description": "病情稳定（可开具超过常规周数的处方）"})
    stability_assessment = fields.String(metadata={"description": "病情稳定性评估"})
    patient_confirmed_at = fields.DateTime(allow_none=True, metadata={"description": "患者确认时间"})
    dispensings = fields.List(fields.Nested(DoctorDispensingSchema))
    created_at = fields.DateTime()


class WarningSchema(Schema):
    code = fields.String()
    message = fields.String()
    details = fields.Dict()


class PrescriptionWithWarningsSchema(DoctorPrescriptionSchema):
    """A prescription just issued or filled, with what the prescriber must know about it."""

    warnings = fields.List(
        fields.Nested(WarningSchema), dump_default=list,
        metadata={"description": "已开具但需注意的问题，如重复享受待遇已提交医保监管"})


# ---------------------------------------------------------------- input

_NOT_BLANK = validate.Regexp(r"\S", error="不能为空白")


def _text(max_length: int, *, required: bool = True, free_text: bool = False, **kwargs) -> fields.String:
    checks = [validate.Length(min=1 if required else 0, max=max_length, error=f"长度应在1到{max_length}个字符之间"
                              if required else f"长度不能超过{max_length}个字符")]
    if required:
        checks.append(_NOT_BLANK)
    options = {"required": True} if required else {"load_default": ""}
    return (FreeText if free_text else fields.String)(validate=checks, **options, **kwargs)


MAX_QUANTITY = Decimal("99999999.99")


def _check_quantity(value: Decimal) -> None:
    if not Decimal(0) < value <= MAX_QUANTITY:
        raise ValidationError("数量应大于0且不超过99999999.99")
    if value.as_tuple().exponent < -2:
        raise ValidationError("数量最多保留两位小数")


def _quantity(**kwargs) -> DecimalString:
    return DecimalString(required=True, validate=_check_quantity, **kwargs)


class PrescriptionItemInputSchema(Schema):
    drug_code = _text(64, metadata={"description": "国家医保药品编码"})
    drug_name = _text(128)
    drug_class = _text(64, metadata={"description": "药品类别编码；本地区细则排除的类别不得开具长期处方"})
    specification = _text(128, required=False, metadata={"description": "规格"})
    dosage = _text(64, metadata={"description": "单次用量，如 5mg"})
    frequency = _text(32, metadata={"description": "用药频次，如 每日一次"})
    quantity = _quantity(metadata={"description": "开具总量（按 unit 计）"})
    unit = _text(16, metadata={"description": "数量单位，如 片、盒"})


class ContinuedFromSchema(Schema):
    institution_name = _text(128, metadata={"description": "上级医疗机构名称"})
    prescription_no = _text(64, metadata={"description": "上级医疗机构处方号"})


class IssuePrescriptionSchema(Schema):
    contract_id = fields.Integer(required=True, strict=True, metadata={"description": "本团队履约中的签约"})
    issued_on = fields.Date(required=True, metadata={"description": "开具日期，不得晚于今天，须在签约期内"})
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, error="处方周数应为正整数"),
                           metadata={"description": "处方用量周数：常规不超过4周，病情稳定者最长12周（以本地区细则为准）"})
    stable_patient = StrictBoolean(load_default=False, metadata={"description": "医生判定病情稳定"})
    stability_assessment = _text(2000, required=False, free_text=True,
                                 metadata={"description": "病情稳定性评估（超过常规周数时必填）"})
    patient_confirmed = StrictBoolean(load_default=False,
                                      metadata={"description": "患者已确认长期处方（超过常规周数时必须为 true）"})
    continued_from = fields.Nested(ContinuedFromSchema, load_default=None, allow_none=True,
                                   metadata={"description": "接续上级医疗机构处方时填写"})
    items = fields.List(fields.Nested(PrescriptionItemInputSchema), required=True,
                        validate=validate.Length(min=1, max=50, error="药品应为1到50种"))

    @validates_schema
    def _distinct_drugs(self, data, **kwargs):
        codes = [item["drug_code"].strip() for item in data.get("items") or []]
        if len(codes) != len(set(codes)):
            raise ValidationError("同一药品不能在一张处方中重复开具", field_name="items")


class DispensedItemSchema(Schema):
    prescription_item_id = fields.Integer(required=True, strict=True)
    quantity = _quantity(metadata={"description": "本次发药数量，不超过处方开具量"})


class DispensingInputSchema(Schema):
    dispensed_on = fields.Date(required=True, metadata={"description": "取药日期，不得晚于今天或早于开具日期"})
    items = fields.List(fields.Nested(DispensedItemSchema), required=True,
                        validate=validate.Length(min=1, max=50, error="药品应为1到50种"))

    @validates_schema
    def _distinct_items(self, data, **kwargs):
        ids = [item["prescription_item_id"] for item in data.get("items") or []]
        if len(ids) != len(set(ids)):
            raise ValidationError("同一药品不能重复登记", field_name="items")


class PrescriptionQuerySchema(PageArgsSchema):
    resident_id = fields.Integer(load_default=None)
    status = fields.Enum(PrescriptionStatus, by_value=True, load_default=None)


class DoctorPrescriptionQuerySchema(PrescriptionQuerySchema):
    contract_id = fields.Integer(load_default=None)
    due_within_days = fields.Integer(load_default=None, validate=validate.Range(min=0, max=366, error="应在0到366之间"),
                                     metadata={"description": "只列出 N 天内（含已过期）需取药的处方"})
