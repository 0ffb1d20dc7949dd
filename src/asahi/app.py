"""The application factory: components are built once in the lifespan and shared by every route."""

from __future__ import annotations

import gc
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
    anthropic_count_tokens,
    anthropic_messages,
    audit,
    budgets,
    dashboard,
    errors,
    feedback,
    health,
    infer,
    keys,
    metrics,
    openai_chat,
    openai_completions,
    openai_embeddings,
    openai_responses,
    orgs,
    policy,
    providers,
    signup,
    unknown_routes,
)
from asahi.api.cors import Cors
from asahi.api.deps import components as running_components
from asahi.api.hot_path import Endpoint, HotPath
from asahi.api.inference_openapi import describe_inference_routes
from asahi.api.middleware import BodyLimit, RefuseNul, RequestContext
from asahi.errors import AsahiError
from asahi.settings import Settings, load_settings
from asahi.store.availability import DatabaseUnavailable, is_bad_value, is_outage

log = logging.getLogger(__name__)


async def _unexpected(request: Request, exc: Exception) -> Response:
    if is_bad_value(exc):
        # Checked values rarely reach this (the request models bound them); what does, e.g. a NUL character in a
        # path parameter on PostgreSQL, is still the client's input, not a fault of the gateway.
        return Response(errors.error_body("invalid_value", "A value in the request cannot be stored or searched "
                                          "for (a NUL character, or a number or date out of range)."),
                        400, media_type="application/json")
    if is_outage(exc):
        # The database went away under a management route: a 503 the caller can retry, logged once per outage.
        running_components(request).database.failed(exc)
        return errors.error_response(DatabaseUnavailable())
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
    ("POST", "/v1/embeddings"): openai_embeddings.embeddings,
    ("POST", "/v1/responses"): openai_responses.responses,
    ("POST", "/v1/completions"): openai_completions.completions,
    ("POST", "/v1/messages/count_tokens"): anthropic_count_tokens.count_tokens,
}


def create_app(settings: Settings | None = None) -> Gateway:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await components.build(settings)
        app.state.components = built
        # What start-up built (models, catalog, caches' tables) lives as long as the process: moved out of the
        # collector's sight, so a collection no longer walks it and pauses every request for tens of ms.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
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
    app.add_exception_handler(StarletteHTTPException, unknown_routes.handle_http_error)
    app.add_exception_handler(Exception, _unexpected)
    for router in (
        health.router, signup.router, keys.router, policy.router, budgets.router, audit.router, analytics.router,
        feedback.router, metrics.router, orgs.router, providers.router,
    ):
        app.include_router(router)
    app.router.routes[:0] = [Route(path, endpoint, methods=[method]) for (method, path), endpoint in
                             INFERENCE_ROUTES.items()]
    # Off the hot path: a model id may hold a slash, so this one is matched as a path, not looked up.
    app.router.routes.insert(0, Route("/v1/models/{model_id:path}", openai_chat.retrieve_model, methods=["GET"]))
    describe_inference_routes(app)
    server = settings.config.server
    cors = Cors.of(settings.cors_origins)
    app.hot_path = HotPath(INFERENCE_ROUTES, server.max_body_bytes, server.body_timeout_seconds, cors)
    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimit, max_bytes=server.max_body_bytes, timeout=server.body_timeout_seconds)
    app.add_middleware(RequestContext)
    if cors is not None:
        cors.add_to(app)  # outermost: a 413 must be readable by the browser that asked too
    dashboard.mount(app)
    return app
