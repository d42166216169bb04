"""Alembic environment: the URL is DATABASE_URL (or one handed in by the caller)."""
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from domain.db import sqlalchemy_url
from domain.models import Base
from runtime.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

url = config.attributes.get("database_url") or Settings.from_env().database_url
engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
