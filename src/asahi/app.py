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
from starlette.types import Receive, Scope, Send

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
from asahi.api.hot_path import Endpoint, HotPath
from asahi.api.middleware import BodyLimit, RequestContext
from asahi.errors import AsahiError
from asahi.settings import Settings, load_settings

log = logging.getLogger(__name__)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return Response(errors.error_body("internal_error", "Internal error."), 500, media_type="application/json")


class Gateway(FastAPI):
    """The management API on FastAPI, with the inference routes taken before its middleware stack."""

    hot_path: HotPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_path is not None and self.hot_path.serves(scope):
            scope["app"] = self  # what `request.app` reads, as Starlette itself would set it
            await self.hot_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


# The inference routes. They are also on the FastAPI router so that other methods get its usual 405.
INFERENCE_ROUTES: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/chat/completions"): openai_chat.chat_completions,
    ("POST", "/v1/messages"): anthropic_messages.messages,
    ("POST", "/infer"): infer.infer,
    ("GET", "/v1/models"): openai_chat.list_models,
}


def create_app(settings: Settings | None = None) -> Gateway:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await components.build(settings)
        app.state.components = built
        try:
            yield
        finally:
            await built.aclose()

    app = Gateway(
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
    app.router.routes[:0] = [Route(path, endpoint, methods=[method]) for (method, path), endpoint in
                             INFERENCE_ROUTES.items()]
    max_body = settings.config.server.max_body_bytes
    app.hot_path = HotPath(INFERENCE_ROUTES, max_body)
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_middleware(RequestContext)
    return app
