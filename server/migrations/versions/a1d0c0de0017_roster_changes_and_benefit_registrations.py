"""roster changes and benefit registrations: death refund policy, settlement flag, duplicate-benefit alerts

Revision ID: a1d0c0de0017
Revises: a1d0c0de0016
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0017'
down_revision = 'a1d0c0de0016'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
IMPORTED = sa.text("source = 'import'")
RESOLVED_WHEN_DATED = "(status = 'resolved') = (resolved_at IS NOT NULL)"


def upgrade():
    # Existing rule versions refund nothing on a death, as the platform did before it was data;
    # existing enrolments came from the platform (5301 at binding, or the demo).
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refund_on_death', sa.String(length=16), nullable=False, server_default='none'))
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        batch_op.alter_column('refund_on_death', server_default=None)

    with op.batch_alter_table('benefit_enrolment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='platform'))
        batch_op.add_column(sa.Column('batch_id', ID, nullable=True))
        batch_op.create_index(batch_op.f('ix_benefit_enrolment_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('uq_benefit_enrolment_import_registration', ['registration_no'], unique=True,
                              sqlite_where=IMPORTED, postgresql_where=IMPORTED)
        batch_op.create_foreign_key(batch_op.f('fk_benefit_enrolment_batch_id_import_batch'), 'import_batch',
                                    ['batch_id'], ['id'])
    with op.batch_alter_table('benefit_enrolment', schema=None) as batch_op:
        batch_op.alter_column('source', server_default=None)

    op.create_table('roster_change',
    sa.Column('region_id', ID, nullable=False),
    sa.Column('chg_sn', sa.String(length=64), nullable=False),
    sa.Column('resident_id', ID, nullable=False),
    sa.Column('chg_type', sa.Enum('stop', 'resume', 'move_out', 'death', name='rosterchangetype', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('chg_date', sa.Date(), nullable=False),
    sa.Column('insu_admdvs', sa.String(length=6), nullable=True),
    sa.Column('batch_id', ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', ID, nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_roster_change_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_roster_change_region_id_region')),
    sa.ForeignKeyConstraint(['resident_id'], ['resident.id'], name=op.f('fk_roster_change_resident_id_resident')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_change')),
    sa.UniqueConstraint('region_id', 'chg_sn', name=op.f('uq_roster_change_region_id_chg_sn'))
    )
    with op.batch_alter_table('roster_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_change_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_roster_change_resident_date', ['resident_id', 'chg_date'], unique=False)

    op.create_table('settlement_check',
    sa.Column('region_id', ID, nullable=False),
    sa.Column('contract_id', ID, nullable=False),
    sa.Column('reason', sa.Enum('moved_out', 'insurance_stopped', name='checkreason', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('since', sa.Date(), nullable=False),
    sa.Column('batch_id', ID, nullable=False),
    sa.Column('cleared_on', sa.Date(), nullable=True),
    sa.Column('id', ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_settlement_check_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f('fk_settlement_check_contract_id_contract')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_settlement_check_region_id_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlement_check')),
    sa.UniqueConstraint('contract_id', 'reason', name=op.f('uq_settlement_check_contract_id_reason'))
    )
    with op.batch_alter_table('settlement_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_check_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_settlement_check_region_open', ['region_id', 'cleared_on'], unique=False)

    op.create_table('benefit_alert',
    sa.Column('region_id', ID, nullable=False),
    sa.Column('contract_id', ID, nullable=False),
    sa.Column('enrolment_id', ID, nullable=False),
    sa.Column('batch_id', ID, nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('open', 'resolved', name='benefitalertstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('resolution_note', sa.String(length=500), nullable=False),
    sa.Column('resolved_by_account_id', ID, nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(RESOLVED_WHEN_DATED, name=op.f('ck_benefit_alert_resolved_when_dated')),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], name=op.f('fk_benefit_alert_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f('fk_benefit_alert_contract_id_contract')),
    sa.ForeignKeyConstraint(['enrolment_id'], ['benefit_enrolment.id'], name=op.f('fk_benefit_alert_enrolment_id_benefit_enrolment')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_benefit_alert_region_id_region')),
    sa.ForeignKeyConstraint(['resolved_by_account_id'], ['user_account.id'], name=op.f('fk_benefit_alert_resolved_by_account_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benefit_alert')),
    sa.UniqueConstraint('contract_id', 'enrolment_id', name='uq_benefit_alert_contract_enrolment')
    )
    with op.batch_alter_table('benefit_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_benefit_alert_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_benefit_alert_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index('ix_benefit_alert_region_status', ['region_id', 'status'], unique=False)


def downgrade():
    op.drop_table('benefit_alert')
    op.drop_table('settlement_check')
    op.drop_table('roster_change')
    with op.batch_alter_table('benefit_enrolment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_benefit_enrolment_batch_id_import_batch'), type_='foreignkey')
        batch_op.drop_index('uq_benefit_enrolment_import_registration', sqlite_where=IMPORTED,
                            postgresql_where=IMPORTED)
        batch_op.drop_index(batch_op.f('ix_benefit_enrolment_batch_id'))
        batch_op.drop_column('batch_id')
        batch_op.drop_column('source')
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        batch_op.drop_column('refund_on_death')
