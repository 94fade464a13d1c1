"""The Flask extensions, created unbound here and bound in the app factory.

flask-smorest's `Api` holds one app's OpenAPI document, so the factory makes one per app.
"""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic diffs identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Use cases return what they loaded; the schemas dump it after the commit without re-reading.
SESSION_OPTIONS = {"expire_on_commit": False}
db = SQLAlchemy(model_class=Base, session_options=dict(SESSION_OPTIONS))  # it adds keys to the dict
migrate = Migrate()
