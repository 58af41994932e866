"""Liveness and readiness: `/`, `/health`, `/ready`."""

import logging
from functools import lru_cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.api.deps import SessionDep
from app.cli import alembic_config
from app.core.errors import SchemaNotReadyError, documented
from app.core.schemas import Health, Message, Readiness

router = APIRouter(tags=["health"])
logger = logging.getLogger("quill.errors")


@router.get("/", response_model=Message, summary="API banner")
async def root() -> Message:
    return Message(message="API is running", docs="/docs")


# The same answer every time: serialised once here rather than validated and serialised per call,
# which was a good part of the endpoint's cost. `response_model` still documents it.
HEALTHY = Health(status="ok").model_dump_json().encode()


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Response:
    # Deliberately touches nothing: a load balancer's liveness probe must not depend on the DB.
    return Response(HEALTHY, media_type="application/json")


@lru_cache(maxsize=1)
def schema_head() -> str | None:
    """The latest migration this code expects; read from the scripts once (create_app warms it)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@router.get(
    "/ready",
    response_model=Readiness,
    responses=documented(SchemaNotReadyError),
    summary="The database answers, at the latest migration",
    description=(
        "503 with `DATABASE_UNAVAILABLE` when the database cannot be reached within "
        "`DB_TIMEOUT_SECONDS`, or its schema is not at the latest migration."
    ),
)
def ready(session: SessionDep) -> Readiness:
    try:
        revisions = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except DBAPIError as exc:
        # A missing table (a dropped or never-migrated database) is a ProgrammingError on
        # PostgreSQL and MariaDB; not ready either way.
        logger.error("not ready: %s", exc.orig)
        raise SchemaNotReadyError() from None
    if revisions != {schema_head()}:
        logger.error("not ready: schema at %s, code expects %s", revisions, schema_head())
        raise SchemaNotReadyError("The database schema is not at the latest migration")
    return Readiness(status="ok", database="ok")
