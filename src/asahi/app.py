"""The application factory: components are built once in the lifespan and shared by every route."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from asahi import __version__, components
from asahi.api import (
    analytics,
    anthropic_messages,
    errors,
    feedback,
    health,
    infer,
    keys,
    metrics,
    openai_chat,
    policy,
    signup,
)
from asahi.api.middleware import BodyLimit, RequestContext
from asahi.errors import AsahiError
from asahi.settings import Settings, load_settings

log = logging.getLogger(__name__)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return Response(errors.error_body("internal_error", "Internal error."), 500, media_type="application/json")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await components.build(settings)
        app.state.components = built
        try:
            yield
        finally:
            await built.aclose()

    app = FastAPI(
        title="Asahi", version=__version__, lifespan=lifespan,
        # Asahi exports its own Prometheus metrics; FastAPI's OpenTelemetry hooks would cost every request
        # a provider lookup for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        description="LLM cost-optimization gateway: OpenAI- and Anthropic-compatible, with caches, routing "
                    "and a ledger of every cent saved.",
    )
    app.add_exception_handler(AsahiError, errors.handle_asahi_error)
    app.add_exception_handler(RequestValidationError, errors.handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, errors.handle_http_error)
    app.add_exception_handler(Exception, _unexpected)
    for router in (
        health.router, signup.router, keys.router, policy.router, analytics.router, feedback.router, metrics.router,
    ):
        app.include_router(router)
    # Plain Starlette routes, matched first: the inference hot path skips FastAPI's per-request machinery.
    app.router.routes[:0] = [
        Route("/v1/chat/completions", openai_chat.chat_completions, methods=["POST"]),
        Route("/v1/messages", anthropic_messages.messages, methods=["POST"]),
        Route("/infer", infer.infer, methods=["POST"]),
        Route("/v1/models", openai_chat.list_models, methods=["GET"]),
    ]
    max_body = int(settings.section("server").get("max_body_bytes", 4 * 1024 * 1024))
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_middleware(RequestContext)
    return app
