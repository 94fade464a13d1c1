"""rules: how many people an account may act for, the guardian age line, sign-in throttling

Revision ID: a1d0c0de0010
Revises: e9a4b5897679
Create Date: 2026-12-02 11:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0010'
down_revision = 'e9a4b5897679'
branch_labels = None
depends_on = None

# Existing rule versions get the values the platform enforced before they were data.
_COLUMNS = (("proxy_max_people", "5"), ("guardian_child_max_age", "14"), ("login_max_failures", "5"),
            ("login_failure_window_seconds", "900"), ("login_lockout_seconds", "900"))


def upgrade():
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        for name, default in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default=default))
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        for name, _ in _COLUMNS:
            batch_op.alter_column(name, server_default=None)


def downgrade():
    with op.batch_alter_table('local_rules', schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
