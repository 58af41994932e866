"""`GET /metrics`: the Prometheus text format of app.core.metrics, added by create_app only when
METRICS_ENABLED, so that with metrics off it is an unknown route (404) like any other.

The contract says nothing on who may read it. Route templates, error rates and login failures
tell an attacker too much, so with METRICS_TOKEN set a scraper must send
`Authorization: Bearer <METRICS_TOKEN>` (Prometheus' `authorization` scrape option); anything
else is 401 NOT_AUTHENTICATED in the envelope. It is left out of the OpenAPI schema: it is for
the operator's scraper, not for API clients (README says so).
"""

import hmac

from fastapi import FastAPI, Request, Response
from pydantic import SecretStr

from app.core.errors import NotAuthenticatedError
from app.core.metrics import Metrics

METRICS_URL = "/metrics"


def _authorised(request: Request, token: SecretStr) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


def install(app: FastAPI, metrics: Metrics, token: SecretStr | None) -> None:
    """Add GET /metrics, open or behind the bearer `token`."""

    def scrape(request: Request) -> Response:
        # A plain def: reading every worker's files is disk I/O, so it runs on a worker thread.
        if token is not None and not _authorised(request, token):
            raise NotAuthenticatedError("A valid metrics token is required")
        body, content_type = metrics.exposition(request.headers.get("accept", ""))
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_api_route(METRICS_URL, scrape, methods=["GET"], include_in_schema=False)
