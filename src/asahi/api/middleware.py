"""Raw ASGI middleware: request ids and the body size limit.

Plain ASGI rather than Starlette's BaseHTTPMiddleware: it costs microseconds on the hot path and does not buffer
streaming responses.
"""

from __future__ import annotations

import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asahi.api.errors import error_body
from asahi.observability.logging import request_id_var


def new_request_id() -> str:
    # 128 random bits, as uuid4 has, without its os.urandom call: a system call that releases the interpreter
    # lock, so under load every request waited there for the ledger's and the embedder's threads. An id is only
    # ever looked up within its own org, so it needs to be unique, not unpredictable; `random` reseeds in forks.
    return f"req_{random.getrandbits(128):032x}"


class RequestContext:
    """Gives every request an id and sends it back as `x-asahi-request-id` (feedback and the ledger use it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        header = (b"x-asahi-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def declared_over(scope: Scope, max_bytes: int) -> bool:
    """Whether Content-Length already says the body is over the limit."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
            return True
    return False


def too_large_body(max_bytes: int) -> bytes:
    return error_body("body_too_large", f"The request body exceeds {max_bytes} bytes.")


class LimitedReceive:
    """`receive` that stops a body at `max_bytes`, whether or not Content-Length told the truth.

    Past the limit it looks like a client that went away: the app stops reading and never acts on part of a body,
    and whoever wrapped it answers 413 instead of whatever the app answers.
    """

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self._max_bytes = max_bytes
        self._received = 0
        self.too_large = False

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_bytes:
                self.too_large = True
                return {"type": "http.disconnect"}
        return message


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_over(scope, self.max_bytes):
            await self._refuse(send)
            return
        limited = LimitedReceive(receive, self.max_bytes)

        async def guarded_send(message: Message) -> None:
            if not limited.too_large:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not limited.too_large:
                raise
        if limited.too_large:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = too_large_body(self.max_bytes)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
