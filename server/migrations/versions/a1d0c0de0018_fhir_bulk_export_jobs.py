"""FHIR bulk export jobs: who exported which data of the region, for what stated purpose, until when

Revision ID: a1d0c0de0018
Revises: a1d0c0de0017
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'a1d0c0de0018'
down_revision = 'a1d0c0de0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fhir_export_job',
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('institution_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('resource_types', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('purpose_code', sa.Enum('health_information_exchange', 'fund_supervision', 'research', 'statistics', name='exportpurpose', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint('period_start IS NULL OR period_end IS NULL OR period_start <= period_end', name=op.f('ck_fhir_export_job_period_order')),
    sa.ForeignKeyConstraint(['account_id'], ['user_account.id'], name=op.f('fk_fhir_export_job_account_id_user_account')),
    sa.ForeignKeyConstraint(['institution_id'], ['institution.id'], name=op.f('fk_fhir_export_job_institution_id_institution')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_fhir_export_job_region_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fhir_export_job'))
    )
    with op.batch_alter_table('fhir_export_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_export_job_region_id'), ['region_id'], unique=False)


def downgrade():
    with op.batch_alter_table('fhir_export_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fhir_export_job_region_id'))

    op.drop_table('fhir_export_job')
