"""FHIR bulk export jobs

Revision ID: a1d0c0de0018
Revises: a1d0c0de0017
Create Date: 2026-12-02 19:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'a1d0c0de0018'
down_revision = 'a1d0c0de0017'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
