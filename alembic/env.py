"""Alembic environment: the URL comes from Settings, never from alembic.ini: the Settings a caller
put in `config.attributes["settings"]` (app.cli.alembic_config), else the process's."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from app.core.config import Settings, get_settings
from app.core.database import make_engine
from app.core.discovery import load_models
from app.core.models import Base
from app.posts import search

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Every domain's tables (app/<domain>/models.py), found rather than listed: autogenerate sees a
# new domain's tables without an edit here.
load_models()
target_metadata = Base.metadata


def _settings() -> Settings:
    given = config.attributes.get("settings")
    return given if isinstance(given, Settings) else get_settings()


def _modelled(name: str | None, _type: str, _parents: object) -> bool:
    # The search indexes (app/posts/search.py) live outside the models.
    return not search.unmodelled(name)


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        include_name=_modelled,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    _configure(url=_settings().database_url)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A caller (tests, `python -m app serve`) may hand over its own connection.
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Connecting is bounded; statements are not: a migration may rewrite a big table.
    settings = _settings()
    engine = make_engine(
        settings.database_url, timeout=settings.db_timeout_seconds, statement_timeout=False
    )
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
