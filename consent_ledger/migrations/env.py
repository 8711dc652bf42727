"""Alembic environment: runs migrations on the connection handed in by Database.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from consent_ledger.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    # `alembic revision --autogenerate` during development, against a scratch database.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///scratch.db")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
