"""The inference routes, served ahead of FastAPI's middleware stack.

Every layer FastAPI and Starlette put around a route (error and exception middleware, their body limit, the exit
stack, matching against every management route) costs each request a wrapped `send` and a few coroutine frames.
On the inference routes that is a measurable share of a cache hit, and those endpoints already answer every error
in their own surface's shape. What the middleware gives every other route, a request id and the body limit, is
applied here directly, without wrapping `send` at all; so are the CORS headers when origins are configured.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from asahi.api.cors import Cors
from asahi.api.errors import error_body
from asahi.api.middleware import LimitedReceive, declared_over, new_request_id, too_large_body
from asahi.observability.logging import request_id_var

Endpoint = Callable[[Request], Awaitable[Response]]
JSON = "application/json"
log = logging.getLogger(__name__)


class HotPath:
    """Dispatches `(method, path)` pairs straight to their endpoints, with request ids and the body limit."""

    def __init__(
        self, routes: Mapping[tuple[str, str], Endpoint], max_body: int, body_timeout: float, cors: Cors | None = None
    ) -> None:
        self._routes = dict(routes)
        self._max_body = max_body
        self._body_timeout = body_timeout
        self._cors = cors

    def serves(self, scope: Scope) -> bool:
        return scope["type"] == "http" and (scope["method"], scope["path"]) in self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        try:
            response = await self._respond(self._routes[(scope["method"], scope["path"])], scope, receive)
            response.raw_headers.append((b"x-asahi-request-id", request_id.encode()))
            if self._cors is not None:
                response.raw_headers.extend(self._cors.response_headers(scope))
            await response(scope, receive, send)
        finally:
            request_id_var.reset(token)

    async def _respond(self, endpoint: Endpoint, scope: Scope, receive: Receive) -> Response:
        if declared_over(scope, self._max_body):
            return Response(too_large_body(self._max_body), 413, media_type=JSON)
        limited = LimitedReceive(receive, self._max_body, self._body_timeout)
        try:
            response = await endpoint(Request(scope, limited))
        except Exception:  # the endpoints answer their own errors; this is a bug's last stop
            if limited.refusal() is None:
                log.exception("unhandled error on an inference route")
            response = Response(error_body("internal_error", "Internal error."), 500, media_type=JSON)
        refusal = limited.refusal()
        if refusal is not None:
            return Response(refusal[0], refusal[1], media_type=JSON)
        return response
