"""The inference routes, served ahead of FastAPI's middleware stack.

Every layer FastAPI and Starlette put around a route (error and exception middleware, their body limit, the exit
stack, matching against every management route) costs each request a wrapped `send` and a few coroutine frames.
On the inference routes that is a measurable share of a cache hit, and those endpoints already answer every error
in their own surface's shape, so they only need the request id and the body limit, applied here in the same way
as for the rest of the app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from asahi.api.errors import error_body
from asahi.api.middleware import BodyLimit, RequestContext

Endpoint = Callable[[Request], Awaitable[Response]]
log = logging.getLogger(__name__)


class HotPath:
    """Dispatches `(method, path)` pairs straight to their endpoints, with request ids and the body limit."""

    def __init__(self, routes: Mapping[tuple[str, str], Endpoint], max_body: int) -> None:
        self._routes = dict(routes)
        self._app = RequestContext(BodyLimit(self._dispatch, max_body))

    def serves(self, scope: Scope) -> bool:
        return scope["type"] == "http" and (scope["method"], scope["path"]) in self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._routes[(scope["method"], scope["path"])]
        try:
            response = await endpoint(Request(scope, receive))
        except Exception:  # the endpoints answer their own errors; this is a bug's last stop
            log.exception("unhandled error on an inference route")
            response = Response(error_body("internal_error", "Internal error."), 500, media_type="application/json")
        await response(scope, receive, send)
