"""The FastAPI application: routes, guards, JSON errors and the request counter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError, ResponseError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from ingestq import __version__
from ingestq.config import IngestSettings
from ingestq.core.queue import Queue, is_out_of_memory
from ingestq.errors import (
    BadRecord,
    ConnectionFailed,
    IngestqError,
    InvalidTransition,
    JobNotFound,
    LeaseLost,
    OutOfMemory,
    PayloadError,
)
from ingestq.service import control_routes, health, routes, search_route, ui
from ingestq.service.guards import BodyLimit
from ingestq.service.metrics import RequestCounter

STATUS_OF: dict[type[IngestqError], int] = {
    PayloadError: 422, JobNotFound: 404, LeaseLost: 409, ConnectionFailed: 503,
    BadRecord: 500, OutOfMemory: 507, InvalidTransition: 409}

DESCRIPTION = (
    "Enqueue and inspect ingestq jobs, manage dead letters, scrape metrics. Mutating routes "
    "need the bearer token (ingest.service.token or INGESTQ_SERVICE_TOKEN). Every error is "
    'JSON: {"error": "<what went wrong>", "detail": <more, or null>}.')


def error_response(status: int, message: str, detail: Any = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The one error shape of the service: ``{"error": ..., "detail": ...}``."""
    return JSONResponse({"error": message, "detail": detail}, status_code=status,
                        headers=headers)


def create_app(queue: Queue, *, host: str | None = None) -> FastAPI:
    """The service for one queue; its client should use short socket timeouts.

    ``host``: the address it will be bound to (default ``service.host``); job reads need the
    token beyond loopback unless ``service.read_auth`` says otherwise, and the MCP route's DNS
    rebinding protection follows it.
    """
    settings = IngestSettings.extending(queue.settings)
    from ingestq.mcp.http import mount

    mcp_routes: list[Route] = []
    mcp_lifespan = mount(mcp_routes, settings, host or settings.service.host)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if mcp_lifespan is None:
            yield
            return
        async with mcp_lifespan():  # the MCP session manager lives as long as the app
            yield

    app = FastAPI(title="ingestq", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.queue = queue
    app.state.settings = settings
    app.state.bind_host = host or settings.service.host
    app.include_router(health.router)
    app.include_router(routes.router)
    app.include_router(search_route.router)
    app.include_router(control_routes.router)
    app.include_router(ui.router)
    # First: the router tries routes in order, and an assistant's calls are the hot path (the
    # ~50 routes before it cost a quarter of a millisecond per MCP call)
    app.router.routes[:0] = mcp_routes
    _add_error_handlers(app)
    # Starlette runs the last added middleware first: the counter sees every answer, the 413s
    # of the body limit included.
    app.add_middleware(BodyLimit, limit=settings.service.max_body_bytes)
    # The leaf routes, for labelling answers given before routing (the 413s).
    app.add_middleware(RequestCounter, routes=[*health.router.routes, *routes.router.routes,
                                               *search_route.router.routes,
                                               *control_routes.router.routes, *ui.router.routes])
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)  # raised ones, and 404/405 of the router
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid request", jsonable(exc.errors()))

    @app.exception_handler(IngestqError)
    async def ingestq_error(request: Request, exc: IngestqError) -> JSONResponse:
        return error_response(STATUS_OF.get(type(exc), 400), str(exc))

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> JSONResponse:
        if isinstance(exc, ResponseError) and is_out_of_memory(exc):
            return error_response(507, "Redis is out of memory", str(exc))
        return error_response(503, "Redis is unavailable", str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log; the caller learns only the exception type.
        return error_response(500, "internal error", type(exc).__name__)


def jsonable(errors: Any) -> Any:
    """Validation errors without the non-JSON context pydantic may attach."""
    return [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]
