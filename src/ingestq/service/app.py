"""The FastAPI application: routes, guards, JSON errors and the request counter."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from ingestq import __version__
from ingestq.config import IngestSettings
from ingestq.errors import ConnectionFailed, IngestqError, JobNotFound, LeaseLost, PayloadError
from ingestq.queue import Queue
from ingestq.service import health, routes
from ingestq.service.guards import BodyLimit
from ingestq.service.metrics import HTTP_REQUESTS

STATUS_OF: dict[type[IngestqError], int] = {
    PayloadError: 422, JobNotFound: 404, LeaseLost: 409, ConnectionFailed: 503}


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": message, "detail": detail}, status_code=status)


def create_app(queue: Queue) -> FastAPI:
    """The service for one queue; its client should use short socket timeouts."""
    settings: IngestSettings = queue.settings
    app = FastAPI(title="ingestq", version=__version__,
                  description="Enqueue and inspect ingestq jobs, manage dead letters, "
                              "scrape metrics. Mutating routes need the bearer token.")
    app.state.queue = queue
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(routes.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid request", jsonable(exc.errors()))

    @app.exception_handler(IngestqError)
    async def ingestq_error(request: Request, exc: IngestqError) -> JSONResponse:
        return _error(STATUS_OF.get(type(exc), 400), str(exc))

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> JSONResponse:
        return _error(503, f"Redis is unavailable: {exc}")

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        response.headers["x-elapsed-ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return response

    app.add_middleware(BodyLimit, limit=settings.service.max_body_bytes)
    return app


def jsonable(errors: Any) -> Any:
    """Validation errors without the non-JSON context pydantic may attach."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]
