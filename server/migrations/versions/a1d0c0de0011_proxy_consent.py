"""proxies: acting for another person only with their consent or a team member's in-person check

Family links gain a status (pending / active / ended), an expiring invitation code, and
how, when, by whom and on what documents they were confirmed; `consent_at` and
`consent_version` become empty until the person concerned (or their guardian) consents.

Existing links were created under the old rules, where the caller's own "consent" sufficed:
they are marked active as they stood (ended if revoked), confirmed `own_identity` for a
person's own identity and `legacy` for everyone else, so staff can find the ones nobody
confirmed and each person can see and end them.

Revision ID: a1d0c0de0011
Revises: a1d0c0de0010
Create Date: 2026-12-02 11:55:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = 'a1d0c0de0011'
down_revision = 'a1d0c0de0010'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_STATUS = sa.Enum('pending', 'active', 'ended', name='proxystatus', native_enum=False, create_constraint=True,
                  length=32)
_CONFIRMATION = sa.Enum('own_identity', 'accepted', 'in_person', 'legacy', name='proxyconfirmation',
                        native_enum=False, create_constraint=True, length=32)
_ENDED_WHEN_REVOKED = "(status = 'ended') = (revoked_at IS NOT NULL)"
_ACTIVE_IS_CONFIRMED = ("status <> 'active' OR (confirmed_via IS NOT NULL AND confirmed_at IS NOT NULL "
                        "AND consent_at IS NOT NULL)")


def upgrade():
    with op.batch_alter_table('family_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', _STATUS, nullable=True))
        batch_op.add_column(sa.Column('invitation_code', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('invitation_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_via', _CONFIRMATION, nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_wechat_account_id', _ID, nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_user_account_id', _ID, nullable=True))
        batch_op.add_column(sa.Column('documents_seen', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                      nullable=False, server_default=sa.text("'[]'")))

    op.execute("UPDATE family_link SET "
               "status = CASE WHEN revoked_at IS NULL THEN 'active' ELSE 'ended' END, "
               "confirmed_via = CASE WHEN relation = 'self' THEN 'own_identity' ELSE 'legacy' END, "
               "confirmed_at = consent_at")

    with op.batch_alter_table('family_link', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=_STATUS, nullable=False)
        batch_op.alter_column('documents_seen', server_default=None)
        batch_op.alter_column('consent_at', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.alter_column('consent_version', existing_type=sa.String(length=32), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_family_link_invitation_code'), ['invitation_code'])
        batch_op.create_foreign_key(batch_op.f('fk_family_link_confirmed_by_wechat_account_id_wechat_account'),
                                    'wechat_account', ['confirmed_by_wechat_account_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_family_link_confirmed_by_user_account_id_user_account'),
                                    'user_account', ['confirmed_by_user_account_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_family_link_ended_when_revoked'), _ENDED_WHEN_REVOKED)
        batch_op.create_check_constraint(batch_op.f('ck_family_link_active_is_confirmed'), _ACTIVE_IS_CONFIRMED)


def downgrade():
    # Links nobody consented to (pending or declined invitations) never gave anyone access.
    op.execute("DELETE FROM family_link WHERE consent_at IS NULL")
    with op.batch_alter_table('family_link', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_family_link_active_is_confirmed'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_family_link_ended_when_revoked'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_family_link_proxyconfirmation'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_family_link_proxystatus'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_family_link_confirmed_by_user_account_id_user_account'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_family_link_confirmed_by_wechat_account_id_wechat_account'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_family_link_invitation_code'), type_='unique')
        batch_op.alter_column('consent_version', existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column('consent_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column('documents_seen')
        batch_op.drop_column('confirmed_by_user_account_id')
        batch_op.drop_column('confirmed_by_wechat_account_id')
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('confirmed_via')
        batch_op.drop_column('invitation_expires_at')
        batch_op.drop_column('invitation_code')
        batch_op.drop_column('status')
