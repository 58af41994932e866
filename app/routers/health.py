"""Liveness and readiness: `/`, `/health`, `/ready`."""

from fastapi import APIRouter, Response

from app.database import ping
from app.dependencies import SessionDep
from app.schemas import Health, Message, Readiness

router = APIRouter(tags=["health"])


@router.get("/", response_model=Message, summary="API banner")
async def root() -> Message:
    return Message(message="API is running", docs="/docs")


# The same answer every time: serialised once here rather than validated and serialised per call
# (a sixth of the endpoint's cost). `response_model` still documents it.
HEALTHY = Health(status="ok").model_dump_json().encode()


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Response:
    # Deliberately touches nothing: a load balancer's liveness probe must not depend on the DB.
    return Response(HEALTHY, media_type="application/json")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The database answers",
    description="503 with `DATABASE_UNAVAILABLE` when the database cannot be reached.",
)
def ready(session: SessionDep) -> Readiness:
    ping(session)
    return Readiness(status="ok", database="ok")
